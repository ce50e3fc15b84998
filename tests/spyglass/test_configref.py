from spyglass.config import SpyglassConfig, parse_config
from spyglass.configref import field_comments, reference_yaml, undocumented
from spyglass.configtypes import ConfigModel


def test_every_config_key_is_documented():
    """A setting without a comment above its declaration (or an upstream reference) fails here."""
    assert undocumented(SpyglassConfig) == []


def test_reference_is_a_valid_config_equal_to_the_defaults():
    text = reference_yaml(SpyglassConfig)
    assert "# Most samples one query may load into memory" in text
    assert parse_config(text, "reference") == SpyglassConfig()


def test_comments_attach_to_the_field_below():
    class M(ConfigModel):
        # the first one
        # continued
        a: int = 1
        b: int = 2  # trailing comments are not docs
        # the third
        c: int = 3

    assert field_comments(M) == {"a": "the first one continued", "c": "the third"}
    assert undocumented(M) == ["b"]
