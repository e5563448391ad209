"""Redaction: the bypasses of the security review (encodings, hidden characters, YAML, prose, .netrc, .pgpass,
AWS pairs), entropy, and what must survive (prose, commit ids, UUIDs, paths); linear time on hostile input."""

from __future__ import annotations

import base64
import binascii
import json
import time

import pytest

from vaultzoe.brain.redact import MARK, redact

GH = "ghp_" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0UvWxYz12"
ANT = "sk-ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe"
ENV = f"PATH=/usr/bin\nHOME=/home/me\nGITHUB_TOKEN={GH}\nANTHROPIC_API_KEY={ANT}\nLANG=C.UTF-8\n"


def leaks(text: str) -> bool:
    """True when text still holds either secret: raw, in part, base64 or hex."""
    for secret in (GH, ANT):
        core = secret.split("_", 1)[-1][-20:]
        forms = [secret, core, base64.b64encode(secret.encode()).decode()[4:-4], secret.encode().hex()[8:-8]]
        if any(form in text for form in forms):
            return True
    return False


@pytest.mark.parametrize("encode", [
    lambda s: base64.b64encode(s.encode()).decode(),
    lambda s: base64.encodebytes(s.encode()).decode(),                  # wrapped at 76 like `base64`
    lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
    lambda s: binascii.hexlify(s.encode()).decode(),
    lambda s: "\n".join(binascii.hexlify(s.encode()).decode()[i:i + 60] for i in range(0, 2 * len(s), 60)),  # xxd -p
    lambda s: base64.b64encode(base64.b64encode(s.encode())).decode(),   # twice
    lambda s: json.dumps({"output": base64.encodebytes(s.encode()).decode()}),   # inside an agent's JSON event
    lambda s: base64.b64encode(s.encode()).decode()[5:],                 # a log tail cut mid-block
], ids=["base64", "base64-wrapped", "base64url", "hex", "xxd-p", "base64-twice", "json-event", "cut"])
def test_an_encoded_environment_dump_is_redacted(encode):
    out = redact(f"$ env | encode\n{encode(ENV)}\ndone\n")
    assert not leaks(out) and MARK in out and out.endswith("done\n")


def test_encoded_harmless_text_stays():
    blob = base64.b64encode(b"hello world, this is only a readme line").decode()
    assert redact(f"see {blob}") == f"see {blob}"


@pytest.mark.parametrize("hidden", ["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\\u200b"])
def test_a_zero_width_character_inside_a_token_does_not_hide_it(hidden):
    out = redact(f"token {GH[:12]}{hidden}{GH[12:]} end")
    assert out == f"token {MARK} end"


def test_terminal_colours_and_json_escapes_do_not_hide_a_token():
    assert not leaks(redact(f"\x1b[32m{GH}\x1b[0m"))
    assert not leaks(redact(json.dumps({"text": f"first line\n{GH}\n{ANT}\n"})))


@pytest.mark.parametrize("text, kept", [
    ("db:\n  password: |\n    hunter2\n    second line\n\n  user: bob\n", "db:\n  password: |\n    [REDACTED]\n\n  user: bob\n"),
    ("private_key: >-\n  MIIEowIBAAKCAQEA\n  more\nname: x\n", "private_key: >-\n  [REDACTED]\nname: x\n"),
    ("GITHUB_TOKEN: |\n  abc\n", "GITHUB_TOKEN: |\n  [REDACTED]\n"),
    ("password:\n  s3cret\nnext: 1\n", "password:\n  [REDACTED]\nnext: 1\n"),
    ("secrets:\n  db: x\n", "secrets:\n  db: x\n"),                      # a mapping: its own keys are judged
    ("description: |\n  the password reset flow\n", "description: |\n  the password reset flow\n"),
])
def test_yaml_block_values(text, kept):
    assert redact(text) == kept


@pytest.mark.parametrize("text, kept", [
    ("the password is hunter2.", f"the password is {MARK}."),
    ("My API key is xK9-mQ2v!", f"My API key is {MARK}!"),
    ('the token was "swordfish"', f"the token was {MARK}"),
    ("the password is required.", "the password is required."),
    ("the token is expired, ask again", "the token is expired, ask again"),
    ("Password is Swordfish", "Password is Swordfish"),        # one capital letter: a word, not a made-up value
])
def test_password_is_x_in_prose(text, kept):
    assert redact(text) == kept


@pytest.mark.parametrize("text, kept", [
    ("machine api.github.com login bob password s3cr3tValue\n", f"machine api.github.com login bob password {MARK}\n"),
    ("machine example.com\n  login alice\n  password pa55\n", f"machine example.com\n  login alice\n  password {MARK}\n"),
    ("default login anonymous password me@example.com", f"default login anonymous password {MARK}"),
    ("machine learning models use a password reset", "machine learning models use a password reset"),
])
def test_netrc_lines(text, kept):
    assert redact(text) == kept


@pytest.mark.parametrize("text, kept", [
    ("db.example.com:5432:mydb:alice:s3cret\n", f"db.example.com:5432:mydb:alice:{MARK}\n"),
    ("*:*:*:postgres:pw:with:colons", f"*:*:*:postgres:{MARK}"),
    ("12:30:45:01:started", "12:30:45:01:started"),                     # a clock, not a host
    ("src/app.py:12:5: E501 line too long", "src/app.py:12:5: E501 line too long"),
])
def test_pgpass_lines(text, kept):
    assert redact(text) == kept


@pytest.mark.parametrize("text", [
    "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    "id AKIAIOSFODNN7EXAMPLE\nthe other half: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
])
def test_an_aws_secret_next_to_its_key_id(text):
    out = redact(text)
    assert "AKIAIOSFODNN7EXAMPLE" not in out and "wJalrXUtnFEMI" not in out


def test_high_entropy_runs_are_redacted():
    assert redact("export X=1; key material xK9mQ2vL7pR4tY8wZ3nB6cF1hJ5gD0sA8eU in the log") == (
        f"export X=1; key material {MARK} in the log")


@pytest.mark.parametrize("text", [
    "commit 3f786850e387550fdab836ed7e6dc881de23001b Merge: 3f78685 de23001",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "id 123e4567-e89b-12d3-a456-426614174000 and 123E4567-E89B-12D3-A456-426614174000",
    "/home/alice/Projects/MyApp2/src/Components/HeaderBarTitle3/index.tsx",
    "C:\\Users\\Alice\\AppData\\Local\\Programs\\Python\\Python312\\python.exe",
    "tests/brain/test_redact.py::test_high_entropy_runs_are_redacted PASSED",
    "golang.org/x/mod v0.4.2 h1:Gz96sIWK3OalVv/I/qNygP3eEmKELSJh3nwzm0vFnPE=",
    '"integrity": "sha512-Gz96sIWK3OalVv/I/qNygP3eEmKELSJh3nwzm0vFnPEabcdeFGHIJ1234=="',
    "AbstractSingletonProxyFactoryBean2 and TestRedactionKeepsOrdinaryProse1",
    "context_tokens: 8000 max_tokens=4096; the password reset flow is broken",
    "Session: 0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b, turns: 12, files: src/auth/token_store.py",
    "Customers renew in March; Acme's budget owner is Dana. Talk to her before the Q3 meeting.",
])
def test_ordinary_text_survives(text):
    assert redact(text) == text


def test_known_shapes_still_redacted():
    assert redact(f"key {GH} and {ANT} end") == f"key {MARK} and {MARK} end"
    assert redact('"api_key": "abc123def"') == f'"api_key": "{MARK}"'
    assert redact('{"cmd": "echo \\"token\\": \\"abc123\\""}') == '{"cmd": "echo \\"token\\": \\"[REDACTED]\\""}'
    assert redact('export API_TOKEN="correct horse battery"') == f'export API_TOKEN="{MARK}"'


@pytest.mark.parametrize("hostile", [
    "a" * 400_000, "token" * 80_000, "password: |\n" + "  x\n" * 100_000, ":" * 400_000, " " * 400_000,
    "machine x " * 40_000, "key=" * 100_000, "password:\n" * 40_000, ("Ab1/" * 16 + "\n") * 6000,
    "\\n" * 200_000, "AKIAIOSFODNN7EXAMPLE " * 20_000,
], ids=["word", "tokens", "yaml", "colons", "spaces", "machine", "key=", "keys", "b64lines", "escapes", "aws"])
def test_hostile_input_takes_linear_time(hostile):
    start = time.perf_counter()
    redact(hostile)
    assert time.perf_counter() - start < 5.0     # quadratic would take minutes at this size
