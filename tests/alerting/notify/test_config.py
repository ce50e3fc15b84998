import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.notify.config import ConfigError, load_config, parse_config
from alerting.notify.route import Route


def cfg(text: str):
    return parse_config(textwrap.dedent(text))


MINIMAL = """
route:
  receiver: r
receivers:
- name: r
"""


def test_defaults_are_alertmanagers():
    c = cfg(MINIMAL)
    assert c.global_.resolve_timeout == 300
    assert c.global_.smtp_hello == "localhost" and c.global_.smtp_require_tls
    assert c.global_.telegram_api_url == "https://api.telegram.org"
    root = Route.build(c.route)
    assert (root.opts.group_wait, root.opts.group_interval, root.opts.repeat_interval) == (30, 300, 14400)


def test_send_resolved_defaults_per_integration():
    c = cfg("""
    global:
      slack_api_url: https://hooks.slack.com/x
      smtp_smarthost: localhost:25
      smtp_from: am@example.org
    route: {receiver: r}
    receivers:
    - name: r
      webhook_configs: [{url: "http://a/b"}]
      slack_configs: [{channel: "#x"}]
      email_configs: [{to: "o@example.org"}]
      telegram_configs: [{bot_token: t, chat_id: 1}]
      msteams_configs: [{webhook_url: "https://t/x"}]
      dingtalk_configs: [{url: "https://d/x"}]
      feishu_configs: [{url: "https://f/x"}]
      wecom_configs: [{url: "https://w/x"}]
    """)
    r = c.receivers[0]
    assert r.webhook_configs[0].send_resolved is True
    assert r.slack_configs[0].send_resolved is False
    assert r.email_configs[0].send_resolved is False
    assert r.telegram_configs[0].send_resolved is True
    assert r.msteams_configs[0].send_resolved is True
    assert all(x[0].send_resolved for x in (r.dingtalk_configs, r.feishu_configs, r.wecom_configs))
    # Globals fill the gaps where Alertmanager fills them.
    assert r.slack_configs[0].api_url == "https://hooks.slack.com/x"
    assert r.email_configs[0].smarthost == "localhost:25" and r.email_configs[0].from_ == "am@example.org"
    assert r.email_configs[0].require_tls is True and r.email_configs[0].hello == "localhost"
    assert r.telegram_configs[0].api_url == "https://api.telegram.org"


@pytest.mark.parametrize("text,msg", [
    ("route: {receiver: x}\nreceivers: [{name: r}]", 'undefined receiver "x" used in route'),
    ("receivers: [{name: r}]", "no routes provided"),
    ("route: {}\nreceivers: [{name: r}]", "root route must specify a default receiver"),
    ("route: {receiver: r, matchers: [a=b]}\nreceivers: [{name: r}]", "root route must not have any matchers"),
    ("route: {receiver: r, continue: true}\nreceivers: [{name: r}]", "cannot have continue in root route"),
    ("route: {receiver: r}\nreceivers: [{name: r}, {name: r}]", 'notification config name "r" is not unique'),
    ("route: {receiver: r}\nreceivers: [{}]", "missing name in receiver"),
    ("route: {receiver: r, group_by: ['...', a]}\nreceivers: [{name: r}]", "wildcard group_by"),
    ("route: {receiver: r, group_by: [a, a]}\nreceivers: [{name: r}]", 'duplicated label "a" in group_by'),
    ("route: {receiver: r, routes: [{group_interval: 0s}]}\nreceivers: [{name: r}]", "group_interval cannot be zero"),
    ("route: {receiver: r, routes: [{mute_time_intervals: [nope]}]}\nreceivers: [{name: r}]",
     'undefined time interval "nope" used in route'),
    ("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{}]}]", "one of url or url_file"),
    ("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: 'ftp://x/'}]}]", 'unsupported scheme "ftp"'),
    ("route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{}]}]", "no global Slack API URL set"),
    ("route: {receiver: r}\nreceivers: [{name: r, email_configs: [{to: a@b}]}]", "no global SMTP smarthost set"),
    ("route: {receiver: r}\nreceivers: [{name: r, telegram_configs: [{bot_token: x}]}]", "missing chat_id"),
    # A setting comes inline or from <name>_file: never both, and some required ones must come.
    ("route: {receiver: r}\nreceivers: [{name: r, telegram_configs: [{chat_id: 1}]}]",
     "missing bot_token or bot_token_file on telegram_config"),
    ("route: {receiver: r}\nreceivers: [{name: r, telegram_configs: [{chat_id: 1, bot_token: x, bot_token_file: f}]}]",
     "at most one of bot_token & bot_token_file must be configured"),
    ("route: {receiver: r}\nreceivers: [{name: r, msteamsv2_configs: [{}]}]",
     "one of webhook_url or webhook_url_file must be configured"),
    ("route: {receiver: r}\nreceivers: [{name: r, msteams_configs: [{webhook_url: 'https://t/x', webhook_url_file: f}]}]",
     "at most one of webhook_url & webhook_url_file must be configured"),
    ("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: 'http://a/', url_file: f}]}]",
     "at most one of url & url_file must be configured"),
    ("route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{api_url: 'https://s/x', api_url_file: f}]}]",
     "at most one of api_url & api_url_file must be configured"),
    ("route: {receiver: r}\nreceivers: [{name: r, email_configs: [{to: a@b, auth_password: p, auth_password_file: f}]}]",
     "at most one of auth_password & auth_password_file must be configured"),
    ("route: {receiver: r}\nreceivers: [{name: r, dingtalk_configs: [{url: 'https://d/x', secret: s, secret_file: f}]}]",
     "at most one of secret & secret_file must be configured"),
    ("route: {receiver: r}\nreceivers: [{name: r, wecom_configs: [{}]}]", "one of url or url_file must be configured"),
    ("global: {opsgenie_api_key: k, opsgenie_api_key_file: f}\nroute: {receiver: r}\nreceivers: [{name: r}]",
     "at most one of opsgenie_api_key & opsgenie_api_key_file must be configured"),
    ("route: {receiver: r}\nreceivers: [{name: r, pagerduty_configs: [{}]}]", "pagerduty_configs is an Alertmanager integration Spyglass does not implement"),
    ("route: {receiver: r, routes: [{match: {'bad-name': x}}]}\nreceivers: [{name: r}]", 'invalid label name "bad-name"'),
    ("route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals: [{name: t, time_intervals: [{weekdays: ['sunday:monday'], times: [{start_time: '10:00', end_time: '09:00'}]}]}]",
     "start time cannot be equal or greater than end time"),
    ("route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals: [{name: t}, {name: t}]", 'time interval "t" is not unique'),
])
def test_validation_errors(text, msg):
    with pytest.raises(ConfigError, match=msg.replace("(", r"\(").replace("[", r"\[").replace(".", r"\.")):
        parse_config(text)


def test_unknown_keys_name_the_path_and_line():
    text = "route:\n  receiver: r\n  routes:\n  - receiver: r\n    gruop_by: [a]\nreceivers:\n- name: r\n"
    with pytest.raises(ConfigError) as e:
        parse_config(text, source="am.yml")
    assert str(e.value) == 'am.yml:5: unknown key "gruop_by" in route.routes[0]'


def test_duplicate_keys_are_errors():
    with pytest.raises(ConfigError, match="already set"):
        parse_config("route: {receiver: r}\nroute: {receiver: r}\nreceivers: [{name: r}]")


def test_secrets_are_redacted_when_printed(tmp_path):
    p = tmp_path / "am.yml"
    p.write_text(textwrap.dedent("""
    global:
      smtp_auth_password: hunter2
      slack_api_url: https://hooks.slack.com/services/T/B/SECRET1
    route: {receiver: r}
    receivers:
    - name: r
      webhook_configs: [{url: "http://hook/SECRET2"}]
      dingtalk_configs: [{url: "https://oapi.dingtalk.com/robot/send?access_token=SECRET3", secret: SECRET4}]
      telegram_configs: [{bot_token: SECRET5, chat_id: 7}]
    """))
    c = load_config(str(p))
    out = c.redacted_yaml() + repr(c)
    for s in ("hunter2", "SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5"):
        assert s not in out
    assert "<secret>" in out
    assert yaml.safe_load(c.redacted_yaml())["receivers"][0]["telegram_configs"][0]["chat_id"] == 7


def test_relative_paths_resolve_against_the_config_dir(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.tmpl").write_text('{{ define "x" }}X{{ end }}')
    p = tmp_path / "am.yml"
    p.write_text("templates: ['t/*.tmpl']\nroute: {receiver: r}\nreceivers:\n- name: r\n"
                 "  webhook_configs: [{url_file: secret.txt}]\n")
    c = load_config(str(p))
    assert c.template_files() == [str(tmp_path / "t" / "a.tmpl")]
    assert c.receivers[0].webhook_configs[0].url_file == str(tmp_path / "secret.txt")


def test_route_inheritance_and_keys():
    c = cfg("""
    route:
      receiver: root
      group_by: [alertname]
      group_wait: 10s
      routes:
      - matchers: ['team="db"', 'severity=~"crit.*"']
        receiver: db
        group_interval: 1m
        mute_time_intervals: [night]
        routes:
        - match: {env: prod}
          match_re: {svc: "a|b"}
          group_by: ['...']
      - receiver: other
        group_by: []
    receivers: [{name: root}, {name: db}, {name: other}]
    time_intervals: [{name: night, time_intervals: [{times: [{start_time: "00:00", end_time: "06:00"}]}]}]
    """)
    root = Route.build(c.route)
    db, other = root.routes
    prod = db.routes[0]
    assert db.opts.receiver == "db" and db.opts.group_wait == 10 and db.opts.group_interval == 60
    assert db.opts.mute_time_intervals == ("night",) and prod.opts.mute_time_intervals == ()
    assert prod.opts.receiver == "db" and prod.opts.group_by_all and prod.opts.group_interval == 60
    assert other.opts.group_by == frozenset({"alertname"})  # `group_by: []` inherits, as upstream
    assert db.key == '{}/{severity=~"crit.*",team="db"}'
    assert prod.key == '{}/{severity=~"crit.*",team="db"}/{env="prod",svc=~"^(?:a|b)$"}'


# -- property tests: random route trees keep Alertmanager's inheritance --------------------
durations = st.sampled_from([None, "1s", "15s", "1m", "5m", "1h30m", "4h"])
labels = st.sampled_from(["alertname", "job", "team", "severity", "env"])


@st.composite
def route_tree(draw, depth=0):
    node = {}
    if draw(st.booleans()):
        node["receiver"] = draw(st.sampled_from(["a", "b", "c"]))
    for k in ("group_wait", "group_interval", "repeat_interval"):
        d = draw(durations)
        if d:
            node[k] = d
    if draw(st.booleans()):
        node["group_by"] = draw(st.one_of(st.just(["..."]), st.lists(labels, unique=True, max_size=3)))
    if depth:
        node["matchers"] = [f'{draw(labels)}="{draw(st.sampled_from(["x", "y"]))}"']
        node["continue"] = draw(st.booleans())
    if depth < 3:
        node["routes"] = draw(st.lists(route_tree(depth=depth + 1), max_size=3))
    return node


def _secs(d):
    return {"1s": 1, "15s": 15, "1m": 60, "5m": 300, "1h30m": 5400, "4h": 14400}[d]


@settings(max_examples=60, deadline=None)
@given(route_tree())
def test_random_route_trees_inherit_like_alertmanager(tree):
    tree["receiver"] = "a"
    text = yaml.safe_dump({"route": tree, "receivers": [{"name": n} for n in "abc"]})
    root = Route.build(parse_config(text).route)

    def check(node, r, parent_opts):
        want = {
            "receiver": node.get("receiver") or parent_opts["receiver"],
            "group_wait": _secs(node["group_wait"]) if "group_wait" in node else parent_opts["group_wait"],
            "group_interval": _secs(node["group_interval"]) if "group_interval" in node else parent_opts["group_interval"],
            "repeat_interval": _secs(node["repeat_interval"]) if "repeat_interval" in node else parent_opts["repeat_interval"],
        }
        gb = node.get("group_by")
        if gb == ["..."]:
            want["all"], want["by"] = True, parent_opts["by"]
        elif gb:
            want["all"], want["by"] = False, frozenset(gb)
        else:
            want["all"], want["by"] = parent_opts["all"], parent_opts["by"]
        got = {"receiver": r.opts.receiver, "group_wait": r.opts.group_wait, "group_interval": r.opts.group_interval,
               "repeat_interval": r.opts.repeat_interval, "all": r.opts.group_by_all, "by": r.opts.group_by}
        assert got == want
        for child, rc in zip(node.get("routes", []), r.routes):
            check(child, rc, want)

    check(tree, root, {"receiver": "", "group_wait": 30, "group_interval": 300, "repeat_interval": 14400,
                       "all": False, "by": frozenset()})


scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=8),
                    st.sampled_from(["5m", "0s", "-1m", "x", "...", "http://a", "a=b", '{a="b"}']))
keys = st.sampled_from(["route", "receivers", "global", "receiver", "routes", "group_by", "matchers", "name",
                        "webhook_configs", "url", "continue", "group_wait", "inhibit_rules", "equal",
                        "time_intervals", "times", "weekdays", "source_matchers", "bogus"])
docs = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(keys, inner, max_size=4)), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(docs)
def test_config_parser_only_raises_config_errors(doc):
    try:
        parse_config(yaml.safe_dump(doc))
    except ConfigError:
        pass


def test_yaml_anchors_and_merge_keys():
    c = cfg("""
    route:
      receiver: r
      routes:
      - &sub
        receiver: r
        group_wait: 5s
        matchers: [a=b]
      - <<: *sub
        matchers: [a=c]
    receivers: [{name: r}]
    """)
    assert c.route.routes[1].group_wait == 5 and str(c.route.routes[1].matchers) == '{a="c"}'
