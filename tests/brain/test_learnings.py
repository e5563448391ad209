"""Learnings notes: stats that survive restarts, what worked, lessons, and the human's part left alone."""

from __future__ import annotations

from vaultzoe.brain.learnings import (Learned, Outcome, human_part, kind_of, lessons, new_note, parse, prompt_shape,
                                      record, stats)
from vaultzoe.vault.blocks import get_block, replace_block
from vaultzoe.vault.note import Note

HUMAN = "# Learnings: ui\n\nUse the design system's Button, never raw <button>.\n"


def outcome(task: str = "t1", attempt: int = 1, agent: str = "claude", model: str | None = "claude-sonnet-5-5",
            **kw: object) -> Outcome:
    return Outcome(task_id=task, task_path=f"Tasks/{task}.md", attempt=attempt, agent=agent, model=model,
                   **kw)  # type: ignore[arg-type]


def test_record_counts_per_agent_and_model():
    text = HUMAN
    text = record(text, outcome("t1", 1, succeeded_first_try=True, cost_usd=0.5, duration_s=300))
    text = record(text, outcome("t2", 1, cost_usd=1.5, duration_s=600))
    text = record(text, outcome("t2", 2, cost_usd=1.0, duration_s=100))
    text = record(text, outcome("t3", 1, agent="codex", model=None))
    table = stats(text)
    claude = table["claude/claude-sonnet-5-5"]
    assert (claude.tasks, claude.attempts, claude.first_try, claude.merges) == (2, 3, 1, 0)
    assert claude.median_cost == 1.0 and claude.median_duration == 300
    assert table["codex/default"].attempts == 1 and table["codex/default"].model is None
    block = get_block(text, "stats")
    assert "| claude/claude-sonnet-5-5 | 2 | 3 | 1 | 0 | $1.00 | 5m 00s |" in block


def test_recording_the_same_attempt_twice_counts_once_and_merge_updates_it():
    text = record(HUMAN, outcome("t1", 1, succeeded_first_try=True))
    text = record(text, outcome("t1", 1, succeeded_first_try=True))
    text = record(text, outcome("t1", 1, merged=True, prompt_shape="Goal, Context (~2k tokens)",
                                attempt_note="Zoe/Attempts/t1-1.md"))
    text = record(text, outcome("t1", 1, merged=True, attempt_note="Zoe/Attempts/t1-1.md"))
    s = stats(text)["claude/claude-sonnet-5-5"]
    assert (s.attempts, s.first_try, s.merges, s.success_rate) == (1, 1, 1, 1.0)
    worked = get_block(text, "worked")
    assert worked.count("merged after attempt 1") == 1
    assert "[[Tasks/t1]]" in worked and "[[Zoe/Attempts/t1-1]]" in worked and "Goal, Context (~2k tokens)" in worked


def test_human_part_is_never_changed():
    text = HUMAN + "\n## My notes\n\n- keep PRs small\n"
    for n in range(5):
        text = record(text, outcome(f"t{n}", lesson=f"lesson {n}", merged=n % 2 == 0))
    assert text.startswith(HUMAN + "\n## My notes\n\n- keep PRs small\n")
    assert human_part(text) == (HUMAN + "\n## My notes\n\n- keep PRs small").strip()


def test_stats_survive_a_restart_from_the_note_text_alone():
    text = record(new_note("ui"), outcome("t1", 1, merged=True, cost_usd=0.25))
    reread = "".join(text)                       # nothing but the note's text carries over
    assert stats(reread) == stats(text)
    assert stats(record(reread, outcome("t2", 1)))["claude/claude-sonnet-5-5"].attempts == 2


def test_table_is_the_baseline_when_the_hidden_data_is_deleted():
    text = record(HUMAN, outcome("t1", 1, merged=True, cost_usd=2.0, duration_s=90))
    text = record(text, outcome("t2", 1))
    block = get_block(text, "stats")
    stripped = replace_block(text, "stats", "\n".join(ln for ln in block.splitlines() if "stats-data" not in ln))
    s = stats(stripped)["claude/claude-sonnet-5-5"]
    assert (s.tasks, s.attempts, s.merges, s.median_cost, s.median_duration) == (2, 2, 1, 2.0, 90)
    again = stats(record(stripped, outcome("t3", 1, merged=True)))["claude/claude-sonnet-5-5"]
    assert (again.attempts, again.merges) == (3, 2)


def test_lessons_are_deduplicated_redacted_and_fed_to_the_prompt():
    text = record(HUMAN, outcome("t1", 1, lesson="Run `npm test` before committing.", attempt_note="Zoe/Attempts/a.md"))
    text = record(text, outcome("t2", 1, lesson="Run  `npm test` before committing."))
    text = record(text, outcome("t3", 1, lesson="The token: xoxb-1234567890-abcdefghij leaked"))
    block = get_block(text, "lessons")
    assert block.count("npm test") == 1 and "xoxb-" not in block
    out = lessons(text)
    assert out.startswith("Use the design system's Button")
    assert "- Run `npm test` before committing." in out and "[[" not in out.split("Lessons from")[1]


def test_comments_in_the_human_part_are_not_lessons():
    text = "# Learnings: ui\n\n%% Write your advice here. %%\nUse the Button.\n<!-- todo: more -->\n"
    assert lessons(text) == "Use the Button."


def test_lessons_of_text_without_blocks_is_the_text():
    assert lessons("Keep it simple.") == "Keep it simple."
    assert lessons(new_note("ui")) == ""


def test_kind_of():
    assert kind_of(Note("a.md", frontmatter={"kind": "UI "}, tags=("#task",))) == "ui"
    assert kind_of(Note("a.md", frontmatter={"tags": ["task/backend"]}, tags=("#task/backend",))) == "backend"
    assert kind_of(Note("a.md", frontmatter={"tags": ["task"]}, tags=("#task", "#billing"))) == "general"


def test_prompt_shape():
    assert prompt_shape("# T\n\n## Goal\nx\n\n## Business context\n" + "y" * 8000) == \
        "Goal, Business context (~2.0k tokens)"


def test_a_learnings_note_is_parsed_once_into_a_typed_value_the_planners_read():
    text = new_note("ui") + "\nPrefer the design system. %% note to self %%\n"
    for n in range(20):
        text = record(text, outcome(f"t{n}", 2, agent="codex", model=None, merged=n % 2 == 0, lesson=f"Lesson {n}."))
    learned = parse(text)
    assert isinstance(learned, Learned) and learned == parse(text)
    assert [s.key for s in learned.stats] == ["codex/default"] and learned.stats == tuple(stats(text).values())
    assert learned.stats_by_key()["codex/default"].merges == 10
    assert learned.notes == "Prefer the design system."
    assert len(learned.lessons) == 20 and learned.lessons[0].startswith("- Lesson 0.")
    assert len(learned.worked) == 10 and "[[Tasks/t18]]" in learned.worked[-1]
    shown = learned.render()
    assert shown == lessons(text) and "Lesson 4." not in shown and "Lesson 5." in shown   # the last 15 lessons
    assert shown.count("merged after attempt") == 3 and "note to self" not in shown and "stats-data" not in shown
    assert Learned().render() == "" and parse("") == Learned()


# ---------------------------------------------------------------- reading the learnings note for a prompt


def test_learnings_for_prompt_reads_only_the_kinds_own_note_and_checks_privacy(tmp_path):
    from tests.brain.conftest import write_vault
    from vaultzoe.brain.learnings import Learned, learnings_for_prompt
    from vaultzoe.vault.index import VaultIndex

    root = write_vault(tmp_path / "vault", {
        "Zoe/Learnings/backend.md": "# Learnings: backend\n\nUse the ORM (BACKEND-LESSON).\n",
        "Zoe/Learnings/hr.md": "---\nPrivate: true\n---\n# Learnings: hr\n\nSalaries (HR-SECRET).\n",
        "Zoe/Learnings/ops.md": "# Learnings: ops #private\n\nRoot passwords live in ... (OPS-SECRET).\n",
        "Zoe/Learnings/private-diary.md": "# Learnings: private-diary\n\n(SLUG-NOTE)\n",
        "private/diary.md": "---\nprivate: true\n---\n# Diary\n\nDIARY-SECRET\n",
        "Personal/Zoe/Learnings/x.md": "PERSONAL\n",
    })
    index = VaultIndex.open(root, cache=False)
    assert "BACKEND-LESSON" in learnings_for_prompt(index, "backend").render()
    assert learnings_for_prompt(index, "hr") == Learned()
    assert learnings_for_prompt(index, "ops") == Learned()
    assert learnings_for_prompt(index, "nothing-here") == Learned()
    assert "DIARY-SECRET" not in learnings_for_prompt(index, "../../private/diary").render()
    assert learnings_for_prompt(index, "../../private/diary") == learnings_for_prompt(index, "private-diary")
    assert "SLUG-NOTE" in learnings_for_prompt(index, "private-diary").render()
    assert learnings_for_prompt(index, "backend", private_folders=["Zoe/Learnings"]) == Learned()


def test_kind_of_is_a_slug():
    assert kind_of(Note("a.md", frontmatter={"kind": "../../customers/acme"})) == "customers-acme"
    assert kind_of(Note("a.md", tags=("#task/../../x",))) == "x"
