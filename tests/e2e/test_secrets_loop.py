"""Security review, finding 1, end to end: an agent prints its environment (raw, base64, hex) and fails,
with GITHUB_TOKEN and ANTHROPIC_API_KEY set in vaultzoe's environment. Nothing vaultzoe writes (notes, task
memory, retry prompts, learnings) holds either token in any form; the raw log stays private machine state."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from vaultzoe.trust import trust_vault

from .conftest import PY

GH = "ghp_" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0UvWxYz12"
ANT = "sk-ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe"
LEAKY = r'''
import base64, binascii, json, os, sys
from pathlib import Path
env = dict(os.environ)
Path(sys.argv[1], "seen-%s.json" % env["VAULTZOE_ATTEMPT"]).write_text(json.dumps(env))
dump = "".join(f"{k}={v}\n" for k, v in sorted(env.items()))
print(dump)
print(base64.b64encode(dump.encode()).decode())
print(binascii.hexlify(dump.encode()).decode())
keys = "".join(f"{k}={env[k]}\n" for k in ("GITHUB_TOKEN", "ANTHROPIC_API_KEY") if k in env)
print(keys, base64.b64encode(keys.encode()).decode(), binascii.hexlify(keys.encode()).decode(), sep="\n")
print("my token is", env.get("GITHUB_TOKEN", "absent"))
sys.exit(1)
'''


def forms(secret: str) -> list[str]:
    out = [secret, secret[-16:], secret.encode().hex()[10:-10]]
    out += [base64.b64encode(("x" * shift + secret).encode()).decode()[8:-8] for shift in range(3)]
    return out


def leaks(text: str) -> list[str]:
    return [form for secret in (GH, ANT) for form in forms(secret) if form in text]


@pytest.mark.parametrize("pass_on", [False, True], ids=["withheld", "passed-on-purpose"])
def test_an_agent_printing_its_environment_leaks_nothing_into_the_vault(world, monkeypatch, tmp_path, pass_on):
    monkeypatch.setenv("GITHUB_TOKEN", GH)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANT)
    script, seen_dir = tmp_path / "leaky.py", tmp_path / "seen"
    script.write_text(LEAKY)
    seen_dir.mkdir()
    env = "env:\n  GITHUB_TOKEN: $GITHUB_TOKEN\n  ANTHROPIC_API_KEY: ${ANTHROPIC_API_KEY}\n" if pass_on else ""
    (world.vault / "Zoe/Agents/leaky.md").write_text(f'---\ncommand: ["{PY}", "{script}", "{seen_dir}"]\n{env}---\n')
    zoe = world.vault / "Zoe/Zoe.md"
    zoe.write_text(zoe.read_text().replace("max_attempts: 3", "max_attempts: 2"))
    trust_vault(world.vault, os.environ)
    task = world.task("Leaky", mode="leaky")

    world.until_idle(timeout=90)

    assert "status: failed" in task.read_text()
    seen = [json.loads(p.read_text()) for p in sorted(seen_dir.glob("seen-*.json"))]
    assert len(seen) == 2
    assert all(("GITHUB_TOKEN" in env) is pass_on and ("ANTHROPIC_API_KEY" in env) is pass_on for env in seen)
    written = [p for p in world.vault.rglob("*") if p.is_file() and not p.name.startswith("output")]
    assert any("Learnings" in str(p) for p in written) and any(".vaultzoe/tasks" in str(p) for p in written)
    for path in written:
        assert not leaks(path.read_text(encoding="utf-8", errors="replace")), path
    for log in world.vault.glob(".vaultzoe/runs/*/*/output.log"):
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        assert bool(leaks(log.read_text())) is pass_on       # the raw log: private machine state
    retry = next(world.vault.glob(".vaultzoe/runs/*/2/prompt.md")).read_text()
    assert "exited with code 1" in retry and not leaks(retry)
