"""Context packs over small real vaults on disk (VaultIndex.open), with known relevant notes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.brain.conftest import write_vault
from vaultzoe.brain import context
from vaultzoe.brain.context import ContextPack, build_pack, estimate_tokens, is_private, key_terms, note_changed, redact
from vaultzoe.brain.lexicon import lexicon_of
from vaultzoe.errors import VaultError
from vaultzoe.vault.index import VaultIndex
from vaultzoe.vault.note import Note

TASK = "Tasks/CSV export.md"

COMPANY = {
    TASK: """---
tags: [task, billing]
status: queued
customer: "[[Acme Corp]]"
project: "[[Billing Revamp]]"
repo: "[[example-app]]"
---
# CSV export

## Goal

Acme wants to export invoices as CSV files from the invoices page.

## Acceptance criteria

- [ ] a CSV download button on /invoices
""",
    "Customers/Acme Corp.md": """---
type: customer
---
# Acme Corp

Acme is a wholesale bakery chain with 40 shops.

- Acme's accountants import every CSV export into SAP, so semicolons are the delimiter (ACME-FACT-1).
- Their IT only allows outbound traffic on port 443 (ACME-FACT-2).
- Renewal notes: [[Acme renewal]]
""",
    "Projects/Billing Revamp.md": "# Billing Revamp\n\nNew invoices page. Exports must stream (PROJECT-FACT-1).\n",
    "Meetings/2025-03-02 Acme CSV call.md": """---
date: 2025-03-02
---
# Acme call

With [[Acme Corp]].

- They want the invoice CSV export to include the VAT column (MEETING-FACT-1).
""",
    "Meetings/2025-01-10 Acme onboarding.md": """---
date: 2025-01-10
---
# Acme onboarding

With [[Acme Corp]]. We set up their shop accounts and talked about opening hours (DISTRACTOR-1).
""",
    "Support/Ticket 17.md": "# Ticket 17\n\nAcme says the invoice CSV export must use ISO dates (TICKET-FACT-1).\n",
    "Reading/Sourdough.md": "# Sourdough\n\nHydration and starters, nothing about software (DISTRACTOR-2).\n",
    "Acme renewal.md": "---\nprivate: true\n---\n# Acme renewal\n\nWe will raise Acme's CSV export price by 30% "
                       "(PRIVATE-1).\n",
    "Meetings/2025-02-01 Acme 1-1.md": "# 1:1 #private\n\nAbout [[Acme Corp]] invoice CSV export margins "
                                       "(PRIVATE-2).\n",
    "Personal/Acme thoughts.md": "# Thoughts\n\nAcme invoice CSV export is a pain (PRIVATE-3).\n",
    "Zoe/Repos/example-app.md": "---\npath: ../app\n---\n# example-app\n\nExports live in app/exports/ "
                                "(REPO-FACT-1).\n",
    "Zoe/Repos/other-app.md": "---\npath: ../other\n---\n# other-app\n\nUnrelated (OTHER-REPO).\n",
    "Zoe/Attempts/CSV export 1.md": "---\ntask: \"[[CSV export]]\"\n---\n# Attempt 1\n\nACME invoice CSV "
                                    "(ATTEMPT-NOTE).\n",
    "Specs/CSV spec.md": "# CSV spec\n\nFor [[CSV export]]: the file name is invoices-YYYY-MM.csv (SPEC-FACT-1).\n",
}

TOPICS = ("sourdough starters", "garden irrigation", "tax returns", "cycling routes", "piano practice",
          "kitchen renovation", "book club", "running shoes", "camera lenses", "bird watching")
FILLER = {f"Reading/{topic.title()} {n}.md": f"# {topic.title()} {n}\n\nNotes on {topic}, part {n}. Nothing about "
          f"the business here; just {topic} and more {topic.split()[0]}.\n" for topic in TOPICS for n in range(4)}


def open_vault(tmp_path: Path, files: dict[str, str] | None = None) -> VaultIndex:
    return VaultIndex.open(write_vault(tmp_path / "vault", {**FILLER, **(files or COMPANY)}), cache=False)


def pack_of(index: VaultIndex, budget: int = 8000, **kw: object) -> ContextPack:
    return build_pack(index, TASK, budget, private_folders=["Personal"], **kw)  # type: ignore[arg-type]


def test_pack_holds_the_relevant_notes_and_not_the_rest(tmp_path):
    pack = pack_of(open_vault(tmp_path))
    text = pack.render()
    for fact in ("ACME-FACT-1", "ACME-FACT-2", "PROJECT-FACT-1", "MEETING-FACT-1", "TICKET-FACT-1", "SPEC-FACT-1",
                 "REPO-FACT-1"):
        assert fact in text
    assert "DISTRACTOR-2" not in text and "Sourdough" not in text
    paths = [i.path for i in pack.items]
    assert paths.index("Meetings/2025-03-02 Acme CSV call.md") < paths.index("Meetings/2025-01-10 Acme onboarding.md")
    assert text.startswith("## Business context (from the vault)\n\n")


def test_each_item_says_why_and_what_it_costs(tmp_path):
    pack = pack_of(open_vault(tmp_path))
    why = {i.path: i.why for i in pack.items}
    assert why["Customers/Acme Corp.md"] == "`customer:` of the task"
    assert why["Specs/CSV spec.md"] == "links to the task"
    assert why["Meetings/2025-03-02 Acme CSV call.md"] == "links to [[Acme Corp]]"
    assert why["Support/Ticket 17.md"] == "uses the task's words"
    for item in pack.items:
        assert item.tokens == estimate_tokens(item.text) and 0 < pack.share(item) < 1
    assert pack.used_tokens <= 8000
    assert {"acme", "csv", "invoice", "export"} <= set(pack.terms)


def test_private_notes_never_enter_and_are_listed_as_left_out(tmp_path):
    pack = pack_of(open_vault(tmp_path))
    text = pack.render()
    for private in ("PRIVATE-1", "PRIVATE-2", "PRIVATE-3", "Acme renewal", "Acme thoughts", "Acme 1-1"):
        assert private not in text
    assert "Renewal notes: [private note]" in text                 # the link to it is masked too
    left_out = dict(pack.left_out)
    assert left_out["Acme renewal.md"] == "private: true"
    assert left_out["Meetings/2025-02-01 Acme 1-1.md"] == "tagged #private"
    assert left_out["Personal/Acme thoughts.md"] == "in private folder Personal/"


def test_properties_are_one_line_and_their_links_to_private_notes_are_masked(tmp_path):
    files = dict(COMPANY)
    files["Customers/Acme Corp.md"] = files["Customers/Acme Corp.md"].replace(
        "type: customer\n", "type: customer\ncontact: Dana\nsee: \"[[Acme renewal]]\"\n")
    pack = pack_of(open_vault(tmp_path, files))
    customer = next(i for i in pack.items if i.path == "Customers/Acme Corp.md")
    assert "Properties: type: customer; contact: Dana; see: [private note]\n" in customer.text
    assert "---" not in customer.text and "Acme renewal" not in pack.render()


def test_vaultzoe_notes_stay_out_except_the_tasks_repo_note(tmp_path):
    pack = pack_of(open_vault(tmp_path))
    text = pack.render()
    assert "REPO-FACT-1" in text and "ATTEMPT-NOTE" not in text and "OTHER-REPO" not in text
    assert dict(pack.left_out)["Zoe/Attempts/CSV export 1.md"] == "vaultzoe's own note"


def test_secrets_are_redacted(tmp_path):
    files = dict(COMPANY)
    files["Customers/Acme Corp.md"] += ("\nStaging: api_key: sk-ant-api03-SECRETSECRETSECRET\npassword: hunter22\n"
                                        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n"
                                        "-----END OPENSSH PRIVATE KEY-----\n")
    text = pack_of(open_vault(tmp_path, files)).render()
    assert "SECRETSECRET" not in text and "hunter22" not in text and "b3BlbnNzaC1rZXkt" not in text
    assert "api_key: [REDACTED]" in text and "password: [REDACTED]" in text


def test_budget_is_respected_and_disclosure_is_progressive(tmp_path):
    files = dict(COMPANY)
    long_tail = "\n\n".join(f"## Section {n}\n\n" + "Opening hours and parking for the shops. " * 30
                            for n in range(12))
    files["Customers/Acme Corp.md"] += "\n" + long_tail
    index = open_vault(tmp_path, files)
    for budget in (300, 800, 2000, 8000, 32000):
        pack = pack_of(index, budget)
        assert pack.used_tokens <= budget, budget
    small = {i.path: i for i in pack_of(index, 800).items}
    customer = small["Customers/Acme Corp.md"]
    assert customer.mode == "summary"
    assert "ACME-FACT-1" in customer.text and "Sections: Section 0 · Section 1" in customer.text
    assert "Opening hours" not in customer.text.split("Sections:")[1].split("\n", 1)[1][:200]
    big = {i.path: i for i in pack_of(index, 32000).items}
    assert big["Customers/Acme Corp.md"].mode == "full"
    customer_tokens = big["Customers/Acme Corp.md"].tokens
    assert 0.45 * 8000 < customer_tokens < 8000 * 0.9          # over the one-note cap of an 8k pack...
    medium = {i.path: i for i in pack_of(index, 8000).items}
    assert medium["Customers/Acme Corp.md"].mode == "full"      # ...but taken whole: the budget had room


def test_names_only_for_what_does_not_fit(tmp_path):
    pack = pack_of(open_vault(tmp_path), 400)
    modes = {i.mode for i in pack.items}
    assert "name" in modes
    text = pack.render()
    assert "### Other related notes (names only)" in text
    assert text.index("### Other related notes") > max(text.find(f"### {i.path.rsplit('/', 1)[-1][:-3]}\n")
                                                        for i in pack.items if i.mode != "name")
    assert any(reason == "over budget" for _, reason in pack.left_out) or len(pack.items) > 3


def test_extras_come_first_redacted_and_capped(tmp_path):
    extra = [("Repository example-app", "Django; token = ghp_" + "x" * 36),
             ("Earlier attempt", "log line\n" * 2000)]
    pack = pack_of(open_vault(tmp_path), 2000, extra=extra)
    assert [i.path for i in pack.items[:2]] == ["Repository example-app", "Earlier attempt"]
    assert pack.items[0].why == "given" and "ghp_" not in pack.items[0].text
    assert pack.items[1].text.endswith("…(cut to fit the budget)\n\n")
    assert sum(i.tokens for i in pack.items[:2]) <= 1000
    assert pack.used_tokens <= 2000


def test_a_note_passed_as_an_extra_is_not_repeated(tmp_path):
    index = open_vault(tmp_path)
    repo_body = index.note("Zoe/Repos/example-app.md").body.strip()
    pack = pack_of(index, extra=[("Repository example-app", repo_body)])
    assert pack.render().count("REPO-FACT-1") == 1
    assert dict(pack.left_out)["Zoe/Repos/example-app.md"] == "given above in full"


def test_owned_blocks_are_not_context(tmp_path):
    files = dict(COMPANY)
    files["Specs/CSV spec.md"] += "\n<!-- vaultzoe:status -->\n> [!info] running attempt 2 (STATUS-BLOCK)\n" \
                                  "<!-- /vaultzoe:status -->\n"
    assert "STATUS-BLOCK" not in pack_of(open_vault(tmp_path, files)).render()


def test_edits_new_and_deleted_notes_are_seen(tmp_path):
    index = open_vault(tmp_path)
    first = pack_of(index).render()
    root = index.root
    (root / "Support/Ticket 17.md").unlink()
    (root / "Support/Ticket 18.md").write_text("# Ticket 18\n\nAcme invoice CSV export times out (NEW-TICKET).\n")
    (root / "Projects/Billing Revamp.md").write_text("# Billing Revamp\n\nExports must be zipped (EDITED-FACT).\n")
    changed = index.refresh()
    note_changed(index, changed)
    second = pack_of(index).render()
    assert "TICKET-FACT-1" in first and "TICKET-FACT-1" not in second
    assert "NEW-TICKET" in second and "EDITED-FACT" in second and "PROJECT-FACT-1" not in second


def test_an_edit_nobody_reported_is_seen_once_the_note_is_read(tmp_path):
    index = open_vault(tmp_path)
    pack_of(index)
    path = index.root / "Projects/Billing Revamp.md"
    path.write_text("# Billing Revamp\n\nCSV invoice exports need a header row (UNREPORTED-EDIT).\n")
    assert "UNREPORTED-EDIT" in pack_of(index).render()


def test_template_words_of_many_tasks_are_not_key_terms(tmp_path):
    files = dict(COMPANY)
    for n in range(10):
        files[f"Tasks/Other {n}.md"] = (f"---\ntags: [task]\n---\n# Other {n}\n\n## Goal\n\nTopic{n} thing.\n\n"
                                        "## Acceptance criteria\n\n- [ ] reviewed by Bernadette\n")
    files[TASK] += "- [ ] reviewed by Bernadette\n"
    index = open_vault(tmp_path, files)
    lexicon = lexicon_of(index)
    task = index.note(TASK)
    terms = key_terms(context._task_words(task), task.name, lexicon)
    assert "bernadette" not in terms and "csv" in terms


def test_task_frontmatter_is_not_key_terms(tmp_path):
    pack = pack_of(open_vault(tmp_path))
    assert not {"status", "queued", "tag", "example-app", "repo"} & set(pack.terms)


def test_missing_task_is_an_error_that_names_the_fix(tmp_path):
    with pytest.raises(VaultError, match="No note at 'Tasks/Nope.md'"):
        build_pack(open_vault(tmp_path), "Tasks/Nope.md", 1000)


def test_pack_build_is_quick_on_a_small_vault(tmp_path):
    index = open_vault(tmp_path)
    pack_of(index)
    start = time.perf_counter()
    for _ in range(20):
        pack_of(index)
    assert (time.perf_counter() - start) / 20 < 0.05


# ---------------------------------------------------------------- pure helpers


def test_is_private():
    assert is_private(Note("a.md", frontmatter={"private": True}))
    assert is_private(Note("a.md", frontmatter={"private": "yes"}))
    assert not is_private(Note("a.md", frontmatter={"private": False}))
    assert is_private(Note("a.md", tags=("#Private/hr",)))
    assert not is_private(Note("a.md", tags=("#privateer",)))
    assert is_private(Note("HR/Salaries/a.md"), ["hr/"])
    assert not is_private(Note("HRM/a.md"), ["HR"])


def test_is_private_reads_property_names_case_insensitively_and_list_values():
    """Obsidian matches property names case-insensitively; `private: [true]` is a list holding true."""
    for flag in ({"Private": True}, {"PRIVATE": "yes"}, {"private": [True]}, {"Private": ["true"]},
                 {"private": "True "}, {"private": "on"}):
        assert is_private(Note("a.md", frontmatter=flag)), flag
    for flag in ({"private": []}, {"Private": False}, {"private": [False]}, {"private": "no"}, {"privately": True}):
        assert not is_private(Note("a.md", frontmatter=flag)), flag


def test_notes_marked_private_in_any_spelling_never_enter_the_pack(tmp_path):
    files = dict(COMPANY)
    files["Acme renewal.md"] = files["Acme renewal.md"].replace("private: true", "Private: true")
    files["Acme budget.md"] = "---\nprivate: [true]\n---\n# Acme budget\n\nAcme CSV export invoice (PRIVATE-4).\n"
    files["Customers/Acme Corp.md"] += "\nBudget: [[Acme budget]]\n"
    pack = pack_of(open_vault(tmp_path, files))
    text = pack.render()
    assert "PRIVATE-1" not in text and "PRIVATE-4" not in text and "Acme budget" not in text
    assert dict(pack.left_out)["Acme budget.md"] == "private: true"


def test_estimate_tokens():
    assert estimate_tokens("") == 0 and estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2


@pytest.mark.parametrize("secret", [
    "sk-ant-api03-abcdefghijklmnopqrstu", "sk-proj-abcdefghijklmnopqrstuvwx", "ghp_" + "a" * 36,
    "github_pat_11AAAAAAA0" + "b" * 30, "AKIAIOSFODNN7EXAMPLE", "xoxb-123456789012-abcdefghijk",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "sk_live_abcdefghijklmnop1234", "glpat-abcdefghijklmnopqrst",
])
def test_redact_tokens(secret):
    assert redact(f"key {secret} end") == "key [REDACTED] end"


@pytest.mark.parametrize("line, kept", [
    ("password: hunter22", "password: [REDACTED]"),
    ("DB_PASSWORD=s3cr3t!", "DB_PASSWORD=[REDACTED]"),
    ('"api_key": "abc123def"', '"api_key": "[REDACTED]"'),
    ("token = 'xyz987'", "token = '[REDACTED]'"),
    ("Authorization: Bearer abcdefghijklmnop", "Authorization: Bearer [REDACTED]"),
    ("postgres://app:pa55word@db/app", "postgres://app:[REDACTED]@db/app"),
    ("context_tokens: 8000 max_tokens=4096", "context_tokens: 8000 max_tokens=4096"),
    ("the password reset flow", "the password reset flow"),
])
def test_redact_assignments(line, kept):
    assert redact(line) == kept


def test_redact_private_key_block():
    text = "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----\nb"
    assert redact(text) == "a\n[REDACTED]\nb"
