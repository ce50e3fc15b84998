"""The lexer of Go's text/template: text, ``{{ }}`` actions, trim markers, comments.

It follows the Go lexer's states and error messages so that a template that
Go rejects is rejected here with the same words. Positions are indices into
the Python string; ``nodes.location`` turns them into Go's byte columns.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

# token types
ERROR = "error"
BOOL = "bool"
CHAR = "char"  # a printable ASCII character: , = etc.
CHAR_CONSTANT = "charconst"
COMMENT = "comment"
COMPLEX = "complex"
ASSIGN = "assign"  # =
DECLARE = "declare"  # :=
EOF = "EOF"
FIELD = "field"
IDENTIFIER = "identifier"
LEFT_DELIM = "leftdelim"
LEFT_PAREN = "leftparen"
NUMBER = "number"
PIPE = "pipe"
RAW_STRING = "rawstring"
RIGHT_DELIM = "rightdelim"
RIGHT_PAREN = "rightparen"
SPACE = "space"
STRING = "string"
TEXT = "text"
VARIABLE = "variable"
DOT = "dot"
NIL = "nil"

KEYWORDS = {
    "block",
    "break",
    "continue",
    "define",
    "else",
    "end",
    "if",
    "range",
    "nil",
    "template",
    "with",
}

SPACE_CHARS = " \t\r\n"
LEFT_DELIM_S = "{{"
RIGHT_DELIM_S = "}}"
LEFT_COMMENT = "/*"
RIGHT_COMMENT = "*/"


class Token(NamedTuple):
    typ: str
    pos: int
    val: str
    line: int

    def describe(self) -> str:
        """Go's item.String(), used in "unexpected X in Y" messages."""
        if self.typ == EOF:
            return "EOF"
        if self.typ == ERROR:
            return self.val
        if self.typ in KEYWORDS or self.typ in (NIL, DOT):
            return f"<{self.val}>"
        from alerting.template.gofmt import go_quote

        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def _is_space(c: str) -> bool:
    return c in SPACE_CHARS and c != ""


def _is_alnum(c: str) -> bool:
    if c == "":
        return False
    if c == "_":
        return True
    cat = unicodedata.category(c)
    return cat[0] == "L" or cat == "Nd"


def _has_left_trim(s: str, i: int) -> bool:
    return i + 1 < len(s) and s[i] == "-" and _is_space(s[i + 1])


def _has_right_trim(s: str, i: int) -> bool:
    return i + 1 < len(s) and _is_space(s[i]) and s[i + 1] == "-"


def _go_rune(c: str) -> str:
    """Go's %#U of a rune: U+0029 ')'."""
    o = ord(c)
    s = f"U+{o:04X}"
    if unicodedata.category(c)[0] in "LMNPS" or c == " ":
        s += f" '{c}'"
    return s


class Lexer:
    """Turns template text into tokens; stops at the first error token."""

    def __init__(self, text: str, break_ok: bool = True, continue_ok: bool = True):
        self.input = text
        self.pos = 0
        self.start = 0
        self.line = 1
        self.start_line = 1
        self.paren_depth = 0
        self.break_ok = break_ok
        self.continue_ok = continue_ok
        self.items: list[Token] = []

    # --- helpers -------------------------------------------------------------
    def next(self) -> str:
        if self.pos >= len(self.input):
            self.pos += 1  # so that backup() after EOF is balanced
            return ""
        c = self.input[self.pos]
        self.pos += 1
        if c == "\n":
            self.line += 1
        return c

    def backup(self) -> None:
        self.pos -= 1
        if self.pos < len(self.input) and self.input[self.pos] == "\n":
            self.line -= 1

    def peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def emit(self, typ: str) -> None:
        self.items.append(Token(typ, self.start, self.input[self.start : self.pos], self.start_line))
        self.start = self.pos
        self.start_line = self.line

    def ignore(self) -> None:
        self.line += self.input.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def accept(self, valid: str) -> bool:
        c = self.next()
        if c != "" and c in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            c = self.next()
            if c == "" or c not in valid:
                break
        self.backup()

    def errorf(self, msg: str) -> None:
        """Emit an error token; ``return self.errorf(...)`` (None) ends the lexing loop."""
        self.items.append(Token(ERROR, self.start, msg, self.start_line))

    def at_right_delim(self) -> tuple[bool, bool]:
        s, p = self.input, self.pos
        if _has_right_trim(s, p) and s.startswith(RIGHT_DELIM_S, p + 2):
            return True, True
        if s.startswith(RIGHT_DELIM_S, p):
            return True, False
        return False, False

    def at_terminator(self) -> bool:
        c = self.peek()
        if c == "" or _is_space(c) or c in ".,|:)(":
            return True
        return self.input.startswith(RIGHT_DELIM_S, self.pos)

    # --- driver --------------------------------------------------------------
    def run(self) -> list[Token]:
        state = self.lex_text
        while state is not None:
            state = state()
        return self.items

    # --- states --------------------------------------------------------------
    def lex_text(self):
        s = self.input
        x = s.find(LEFT_DELIM_S, self.pos)
        if x >= 0:
            self.pos = x
            trim = 0
            if _has_left_trim(s, x + 2):
                seg = s[self.start : x]
                trim = len(seg) - len(seg.rstrip(SPACE_CHARS))
            self.pos -= trim
            if self.pos > self.start:
                self.line += s.count("\n", self.start, self.pos)
                self.emit(TEXT)
            self.pos += trim
            self.ignore()
            return self.lex_left_delim
        self.pos = len(s)
        if self.pos > self.start:
            self.line += s.count("\n", self.start, self.pos)
            self.emit(TEXT)
        self.emit(EOF)
        return None

    def lex_left_delim(self):
        self.pos += len(LEFT_DELIM_S)
        trim = _has_left_trim(self.input, self.pos)
        after = 2 if trim else 0
        if self.input.startswith(LEFT_COMMENT, self.pos + after):
            self.pos += after
            self.ignore()
            return self.lex_comment
        self.emit(LEFT_DELIM)
        self.pos += after
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self):
        self.pos += len(LEFT_COMMENT)
        i = self.input.find(RIGHT_COMMENT, self.pos)
        if i < 0:
            return self.errorf("unclosed comment")
        self.pos = i + len(RIGHT_COMMENT)
        delim, trim = self.at_right_delim()
        if not delim:
            return self.errorf("comment ends before closing delimiter")
        if trim:
            self.pos += 2
        self.pos += len(RIGHT_DELIM_S)
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
        self.ignore()
        return self.lex_text

    def lex_right_delim(self):
        trim = _has_right_trim(self.input, self.pos)
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += len(RIGHT_DELIM_S)
        self.emit(RIGHT_DELIM)
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
            self.ignore()
        return self.lex_text

    def lex_inside_action(self):
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            return self.errorf("unclosed left paren")
        c = self.next()
        if c == "":
            return self.errorf("unclosed action")
        if _is_space(c):
            self.backup()
            return self.lex_space
        if c == "=":
            self.emit(ASSIGN)
        elif c == ":":
            if self.next() != "=":
                return self.errorf("expected :=")
            self.emit(DECLARE)
        elif c == "|":
            self.emit(PIPE)
        elif c == '"':
            return self.lex_quote
        elif c == "`":
            return self.lex_raw_quote
        elif c == "$":
            return self.lex_variable
        elif c == "'":
            return self.lex_char
        elif c == "." and self.pos < len(self.input) and not ("0" <= self.input[self.pos] <= "9"):
            return self.lex_field
        elif c in "+-." or "0" <= c <= "9":
            self.backup()
            return self.lex_number
        elif _is_alnum(c):
            self.backup()
            return self.lex_identifier
        elif c == "(":
            self.emit(LEFT_PAREN)
            self.paren_depth += 1
        elif c == ")":
            self.emit(RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                return self.errorf(f"unexpected right paren {_go_rune(c)}")
        elif ord(c) < 0x80 and c.isprintable():
            self.emit(CHAR)
        else:
            return self.errorf(f"unrecognized character in action: {_go_rune(c)}")
        return self.lex_inside_action

    def lex_space(self):
        n = 0
        while _is_space(self.peek()):
            self.next()
            n += 1
        # a trim-marked right delimiter starts with a space: leave it for the delimiter
        if _has_right_trim(self.input, self.pos - 1) and self.input.startswith(
            RIGHT_DELIM_S, self.pos - 1 + 2
        ):
            self.backup()
            if n == 1:
                return self.lex_right_delim
        self.emit(SPACE)
        return self.lex_inside_action

    def lex_identifier(self):
        while True:
            c = self.next()
            if not _is_alnum(c):
                self.backup()
                word = self.input[self.start : self.pos]
                if not self.at_terminator():
                    return self.errorf(f"bad character {_go_rune(c)}")
                if word in KEYWORDS:
                    if (word == "break" and not self.break_ok) or (
                        word == "continue" and not self.continue_ok
                    ):
                        self.emit(IDENTIFIER)
                    elif word == "nil":
                        self.emit(NIL)
                    else:
                        self.emit(word)
                elif word in ("true", "false"):
                    self.emit(BOOL)
                else:
                    self.emit(IDENTIFIER)
                return self.lex_inside_action

    def lex_field(self):
        return self._field_or_variable(FIELD)

    def lex_variable(self):
        if self.at_terminator():
            self.emit(VARIABLE)
            return self.lex_inside_action
        return self._field_or_variable(VARIABLE)

    def _field_or_variable(self, typ: str):
        if self.at_terminator():
            self.emit(VARIABLE if typ == VARIABLE else DOT)
            return self.lex_inside_action
        while True:
            c = self.next()
            if not _is_alnum(c):
                self.backup()
                break
        if not self.at_terminator():
            return self.errorf(f"bad character {_go_rune(self.peek())}")
        self.emit(typ)
        return self.lex_inside_action

    def _lex_escaped(self, quote: str, typ, what: str):
        """Scan to the closing ``quote`` of a one-line literal with backslash
        escapes (Go's lexChar and lexQuote differ only in these three)."""
        while True:
            c = self.next()
            if c == "\\":
                c2 = self.next()
                if c2 != "" and c2 != "\n":
                    continue
                return self.errorf(f"unterminated {what}")
            if c in ("", "\n"):
                return self.errorf(f"unterminated {what}")
            if c == quote:
                break
        self.emit(typ)
        return self.lex_inside_action

    def lex_char(self):
        return self._lex_escaped("'", CHAR_CONSTANT, "character constant")

    def lex_number(self):
        if not self.scan_number():
            return self.errorf(f"bad number syntax: {_q(self.input[self.start:self.pos])}")
        if self.peek() in ("+", "-") and self.peek() != "":
            if not self.scan_number() or self.input[self.pos - 1] != "i":
                return self.errorf(f"bad number syntax: {_q(self.input[self.start:self.pos])}")
            self.emit(COMPLEX)
        else:
            self.emit(NUMBER)
        return self.lex_inside_action

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if _is_alnum(self.peek()):
            self.next()
            return False
        return True

    def lex_quote(self):
        return self._lex_escaped('"', STRING, "quoted string")

    def lex_raw_quote(self):
        while True:
            c = self.next()
            if c == "":
                return self.errorf("unterminated raw quoted string")
            if c == "`":
                break
        self.emit(RAW_STRING)
        return self.lex_inside_action


def _q(s: str) -> str:
    from alerting.template.gofmt import go_quote

    return go_quote(s)


def lex(text: str, break_ok: bool = True, continue_ok: bool = True) -> list[Token]:
    return Lexer(text, break_ok, continue_ok).run()
