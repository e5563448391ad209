#!/usr/bin/env python3
"""A company vault with known answers, for measuring context packs (benchmarks/context_bench.py).

    python benchmarks/company_gen.py OUT_DIR --notes N [--seed S] [--tasks T] [--force]

or `generate(out_dir, n, seed=1, tasks=40) -> manifest (dict)`. Deterministic for (n, seed, tasks).

A one-person software shop: customers, their meetings, projects and decisions (ADRs), support tickets,
people, daily notes, specs, reading notes, and task notes. Each benchmark task ("Add CSV export for Acme")
has a topic (a feature with a few telling words), a customer and a project, and six facts only it needs,
each a sentence carrying a unique code "ref XXXX-NNNN", placed where such facts live in a real vault:

    customer   the customer's note (the task's `customer:` link), a sentence about the topic
    customer2  the customer's note again, a sentence that does NOT use the topic's words (IT rules etc.)
    project    the project's note (the task's `project:` link)
    meeting    one meeting note about the topic among the customer's many meetings (links the customer); the
               fact itself is said without the topic's words ("They need it live before their audit")
    decision   one ADR about the topic among the project's many ADRs (links the project)
    spec       a spec note that links to the task (a backlink of the task)
    ticket     a support ticket naming the customer and the topic in plain words, linking nothing

Distractors: every customer has dozens of meetings on other topics, every project dozens of ADRs, other
customers talk about the same topics, daily notes link meetings and customers (hubs), other tasks exist,
and ~3% of notes are private (`private: true`, #private, or under Private/) while repeating the task's
customer and topic words with their own codes "priv XXXX-NNNN" (must never reach a prompt). Some notes
hold secret-looking values (API keys, passwords), listed in the manifest (must be redacted).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

GENERATOR_VERSION = 2          # bump when the output changes: cached vaults are then regenerated
FACT_KINDS = ("customer", "customer2", "project", "meeting", "decision", "spec", "ticket")
PRIVATE_FOLDER = "Private"

TOPICS = [
    ("CSV export", "csv export spreadsheet"), ("single sign-on", "sso saml okta"),
    ("invoice PDFs", "invoice pdf letterhead"), ("webhook retries", "webhook retry backoff"),
    ("dark mode", "dark theme contrast"), ("audit log", "audit trail compliance"),
    ("rate limiting", "throttling quota burst"), ("two-factor login", "2fa totp authenticator"),
    ("bulk import", "import upload batch"), ("search filters", "filter facet search"),
    ("push notifications", "push apns firebase"), ("data retention", "retention purge gdpr"),
    ("multi-currency pricing", "currency exchange fx"), ("role permissions", "rbac permission role"),
    ("email digests", "digest newsletter unsubscribe"), ("calendar sync", "calendar ical caldav"),
    ("usage dashboard", "dashboard chart usage"), ("API pagination", "pagination cursor offset"),
    ("file attachments", "attachment storage s3"), ("onboarding wizard", "onboarding wizard signup"),
    ("VAT calculation", "vat tax invoice"), ("refund flow", "refund chargeback dispute"),
    ("inventory sync", "inventory stock warehouse"), ("shipping labels", "shipping label carrier"),
    ("appointment reminders", "reminder sms appointment"), ("localization", "translation locale i18n"),
    ("accessibility", "accessibility aria keyboard"), ("offline mode", "offline sqlite conflict"),
    ("scheduled reports", "schedule report cron"), ("Slack integration", "slack channel bot"),
    ("session timeout", "session timeout idle"), ("image thumbnails", "thumbnail resize image"),
    ("geo search", "geo radius postcode"), ("subscription upgrades", "upgrade proration plan"),
    ("print layout", "print layout stylesheet"), ("barcode scanning", "barcode scanner ean"),
    ("loyalty points", "loyalty points reward"), ("contract e-signature", "signature docusign contract"),
    ("status page", "uptime incident statuspage"), ("data warehouse sync", "warehouse bigquery etl"),
]
DETAILS = [
    "semicolons as the delimiter", "timestamps in UTC with an explicit offset", "no more than 500 rows per page",
    "German and French labels", "the legacy v1 endpoint to keep working until June", "an audit entry per change",
    "read-only access for their auditors", "amounts rounded half-up to two decimals", "a hard limit of 20 MB",
    "the customer's own logo in the header", "a kill switch behind a feature flag", "retries spaced 5 minutes apart",
    "IDs that never change once shown", "no emails on weekends", "at least AA contrast",
    "a dry-run mode before anything is written", "the old export to stay available for a quarter",
    "Okta as the only identity provider", "EU data residency", "a nightly run at 02:00 CET",
    "sorted by due date, oldest first", "the account manager in CC", "numbers formatted the Swiss way",
    "an undo within 30 seconds", "SKU codes kept as text, never as numbers", "a single confirmation email",
]
FACT_TEMPLATES = [
    "{customer} asked that the {topic} work uses {detail} (ref {code}).",
    "For {topic}, {customer} needs {detail} (ref {code}).",
    "Agreed with {customer}: {topic} must come with {detail} (ref {code}).",
    "Important for {topic}: {customer} expects {detail} (ref {code}).",
]
PLAIN_FACTS = [  # true about a customer, relevant to its tasks, and not in the topic's words
    "Their IT only allows outbound traffic on port 443 (ref {code}).",
    "They deploy to their own servers every second Tuesday, never on Fridays (ref {code}).",
    "Their finance team signs off every change that touches money (ref {code}).",
    "All their staff use Safari on managed iPads (ref {code}).",
    "The contract caps response times at 300 ms at the 95th percentile (ref {code}).",
    "Their admins cannot install browser extensions (ref {code}).",
]
MEETING_FACTS = [  # said in the meeting about the topic, without the topic's words
    "They need it live before their audit in March (ref {code}).",
    "Their CFO will only sign off if nothing changes for existing users (ref {code}).",
    "Budget for this is capped at 40 hours (ref {code}).",
    "Their support team wants a week of notice before it ships (ref {code}).",
    "Start with the Zurich office only, then roll out (ref {code}).",
]
FILLER = (
    "we talked about the roadmap and the next release and agreed to keep the scope small while the team "
    "looks at performance and memory in the background; the plan is to write a short outline first, then "
    "review it, then build the simplest version that could work and measure it before going further; "
    "there was a question about ownership and the answer was to keep one owner per area; the budget is fine "
    "for now but the estimate was optimistic and the risk sits in the dependency on the vendor; someone will "
    "check the milestone next week and update the status in the weekly note"
).split()
COMPANY_A = ("Acme Northwind Borealis Cobalt Juniper Lumen Meridian Nimbus Orchid Pinnacle Quartz Redwood "
             "Sable Tundra Umber Vantage Willow Zephyr Aurora Beacon Cedar Delta Ember Fjord Granite Harbor "
             "Ionic Jasper Kestrel Larch Marble Nova Onyx Prairie Quill Riviera Summit Topaz Vertex").split()
COMPANY_B = ("Foods Logistics Dental Legal Fitness Travel Clinics Realty Motors Studios Analytics Bakery "
             "Pharma Energy Insurance Academy Outfitters Brewing Florists Robotics").split()
FIRST = "Anna Ben Chloe David Elena Felix Grace Hugo Iris Jonas Kira Liam Mia Noah Olga Paul Rosa Sam Tara Umar".split()
LAST = "Adler Berg Costa Dietz Eriksen Fischer Garcia Huber Ito Jensen Keller Lopez Meier Novak Olsen Petit".split()


@dataclass
class Vault:
    rng: random.Random
    files: dict[str, str] = field(default_factory=dict)
    codes: set[str] = field(default_factory=set)

    def code(self, prefix: str = "ref") -> str:
        while True:
            code = f"{self.rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{self.rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}" \
                   f"{self.rng.randint(10, 99)}-{self.rng.randint(1000, 9999)}"
            if code not in self.codes:
                self.codes.add(code)
                return code

    def add(self, path: str, text: str) -> str:
        assert path not in self.files, path
        self.files[path] = text
        return path

    def append(self, path: str, text: str) -> None:
        self.files[path] = self.files[path].rstrip("\n") + "\n" + text + "\n"

    def filler(self, words: int) -> str:
        start = self.rng.randrange(len(FILLER))
        picked = [FILLER[(start + i) % len(FILLER)] for i in range(words)]
        return " ".join(picked).capitalize() + "."


def name_of(path: str) -> str:
    return path.rsplit("/", 1)[-1][:-3]


def link(path: str) -> str:
    return f"[[{name_of(path)}]]"


def topic_sentence(v: Vault, customer: str, topic: int, detail: str | None = None,
                   prefix: str = "ref") -> tuple[str, str]:
    code = v.code()
    text = v.rng.choice(FACT_TEMPLATES).format(customer=customer, topic=TOPICS[topic][0],
                                               detail=detail or v.rng.choice(DETAILS), code=code)
    if prefix != "ref":
        text = text.replace(f"(ref {code})", f"({prefix} {code})")
    return text, code


def day(v: Vault) -> str:
    return f"2025-{v.rng.randint(1, 12):02d}-{v.rng.randint(1, 28):02d}"


# ---------------------------------------------------------------- the company


def build(n: int, seed: int, n_tasks: int) -> tuple[Vault, dict]:
    v = Vault(random.Random(seed))
    scale = max(n / 10_000, 0.05)
    customers = make_customers(v, max(int(80 * scale), 8))
    people = make_people(v, max(int(150 * scale), 10))
    projects = make_projects(v, max(int(40 * scale), 5), customers)
    meetings = make_meetings(v, customers, people, int(3000 * scale))
    decisions = make_decisions(v, projects, int(700 * scale))
    make_tickets(v, customers, int(1200 * scale))
    make_dailies(v, meetings, customers, int(900 * scale))
    make_repo(v)
    tasks = make_tasks(v, customers, projects, meetings, decisions, n_tasks)
    make_other_tasks(v, customers, projects, int(250 * scale))
    private = make_private(v, customers, int(0.03 * n), tasks)
    secrets = make_secrets(v, customers)
    make_filler(v, n)
    manifest = {"notes": len(v.files), "seed": seed, "private_folders": [PRIVATE_FOLDER], "tasks": tasks,
                "private_codes": private, "secrets": secrets}
    return v, manifest


def make_customers(v: Vault, count: int) -> list[str]:
    names = [f"{a} {b}" for a in COMPANY_A for b in COMPANY_B]
    v.rng.shuffle(names)
    paths = []
    for name in names[:count]:
        body = (f"---\ntype: customer\nplan: {v.rng.choice(['starter', 'team', 'enterprise'])}\n"
                f"since: {day(v)}\n---\n# {name}\n\n{name} is a customer since last year. {v.filler(40)}\n\n"
                f"## Contacts\n\n- {v.rng.choice(FIRST)} {v.rng.choice(LAST)} (ops)\n\n## Notes\n\n{v.filler(30)}\n")
        paths.append(v.add(f"Customers/{name}.md", body))
    return paths


def make_people(v: Vault, count: int) -> list[str]:
    paths = []
    for i in range(count):
        name = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}{'' if i < 320 else f' {i}'}"
        paths.append(v.add(f"People/{name}.md", f"# {name}\n\nWorks with us on {v.filler(12)}\n"))
    return paths


def make_projects(v: Vault, count: int, customers: list[str]) -> list[str]:
    words = ("Billing Platform Portal Mobile Insights Checkout Scheduler Connect Reports Admin Sync Search "
             "Identity Notifications Storefront Payments Catalog Fleet Booking Ledger").split()
    paths = []
    for i in range(count):
        name = f"{words[i % len(words)]} {['Revamp', 'v2', 'Rewrite', 'Launch', 'Migration'][i // len(words) % 5]}"
        owner = link(v.rng.choice(customers))
        body = (f"---\ntype: project\nstatus: active\ncustomer: \"{owner}\"\n---\n# {name}\n\n"
                f"Project for {owner}. {v.filler(50)}\n\n## Scope\n\n{v.filler(30)}\n\n## Notes\n\n")
        paths.append(v.add(f"Projects/{name}.md", body))
    return paths


def make_meetings(v: Vault, customers: list[str], people: list[str], count: int) -> dict[str, list[str]]:
    by_customer: dict[str, list[str]] = {c: [] for c in customers}
    for i in range(count):
        customer = customers[i % len(customers)] if i < len(customers) * 3 else v.rng.choice(customers)
        cname = name_of(customer)
        path = v.add(f"Meetings/{day(v)} {cname} sync {i}.md", meeting_text(v, cname, v.rng.randrange(len(TOPICS)),
                                                                          people, None))
        by_customer[customer].append(path)
    return by_customer


def meeting_text(v: Vault, cname: str, topic: int, people: list[str], fact: str | None) -> str:
    date = day(v)
    sentence = fact or topic_sentence(v, cname, topic)[0]
    other = topic_sentence(v, cname, v.rng.randrange(len(TOPICS)))[0]
    return (f"---\ndate: {date}\ntype: meeting\n---\n# {cname} sync\n\nWith [[{cname}]] and "
            f"{link(v.rng.choice(people))}. {v.filler(25)}\n\n## Notes\n\n- {sentence}\n- {v.filler(20)}\n- {other}\n\n"
            f"## Action items\n\n- [ ] {v.filler(8)}\n")


def make_decisions(v: Vault, projects: list[str], count: int) -> dict[str, list[str]]:
    by_project: dict[str, list[str]] = {p: [] for p in projects}
    for i in range(count):
        project = v.rng.choice(projects)
        topic = v.rng.randrange(len(TOPICS))
        path = v.add(f"Decisions/ADR-{i:04d} {TOPICS[topic][0]}.md", decision_text(v, project, topic, None))
        by_project[project].append(path)
    return by_project


def decision_text(v: Vault, project: str, topic: int, fact: str | None) -> str:
    sentence = fact or f"We decided how {TOPICS[topic][0]} works: {v.rng.choice(DETAILS)} (ref {v.code()})."
    return (f"---\ntype: decision\ndate: {day(v)}\nproject: \"{link(project)}\"\n---\n# {TOPICS[topic][0]}\n\n"
            f"## Context\n\n{v.filler(35)}\n\n## Decision\n\n{sentence}\n\n## Consequences\n\n{v.filler(25)}\n")


def make_tickets(v: Vault, customers: list[str], count: int) -> None:
    for i in range(count):
        cname = name_of(v.rng.choice(customers))
        sentence, _ = topic_sentence(v, cname, v.rng.randrange(len(TOPICS)))
        v.add(f"Support/Ticket {5000 + i}.md", f"---\ntype: ticket\ndate: {day(v)}\n---\n# Ticket {5000 + i}\n\n"
                                             f"From {cname} support: {sentence} {v.filler(30)}\n")


def make_dailies(v: Vault, meetings: dict[str, list[str]], customers: list[str], count: int) -> None:
    all_meetings = [m for ms in meetings.values() for m in ms]
    for i in range(count):
        links = " ".join(link(p) for p in v.rng.sample(all_meetings, min(4, len(all_meetings))))
        v.add(f"Daily/2024-{i // 28 % 12 + 1:02d}-{i % 28 + 1:02d} ({i}).md",
              f"# Daily\n\n{v.filler(30)}\n\nMeetings: {links}\nCalls: {link(v.rng.choice(customers))}\n")


def make_repo(v: Vault) -> None:
    v.add("Zoe/Repos/example-app.md", "---\npath: ../example-app\nbase: main\ncheck: pytest -q\n---\n"
                                      "# example-app\n\nDjango app; exports live in app/exports/.\n")


# ---------------------------------------------------------------- benchmark tasks and their facts


def make_tasks(v: Vault, customers: list[str], projects: list[str], meetings: dict[str, list[str]],
               decisions: dict[str, list[str]], count: int) -> list[dict]:
    pairs = [(c, t) for c in customers for t in range(len(TOPICS))]
    v.rng.shuffle(pairs)
    tasks = []
    for i, (customer, topic) in enumerate(pairs[:count]):
        tasks.append(make_task(v, i, customer, topic, v.rng.choice(projects), meetings))
    return tasks


def make_task(v: Vault, i: int, customer: str, topic: int, project: str, meetings: dict[str, list[str]]) -> dict:
    cname, tname = name_of(customer), TOPICS[topic][0]
    path = v.add(f"Tasks/{tname} for {cname} ({i}).md", task_text(v, cname, project, topic))
    facts: dict[str, str] = {}
    sentence, facts["customer"] = topic_sentence(v, cname, topic)
    v.append(customer, f"- {sentence}")
    code = v.code()
    v.append(customer, "- " + v.rng.choice(PLAIN_FACTS).format(code=code))
    facts["customer2"] = code
    sentence, facts["project"] = topic_sentence(v, cname, topic)
    v.append(project, f"- {sentence}")
    facts["meeting"] = v.code()
    sentence = v.rng.choice(MEETING_FACTS).format(code=facts["meeting"])
    meeting = v.add(f"Meetings/{day(v)} {cname} {tname} call.md", meeting_text(v, cname, topic, [customer], sentence))
    sentence, facts["decision"] = topic_sentence(v, cname, topic)
    decision = v.add(f"Decisions/ADR-T{i:03d} {tname} for {cname}.md", decision_text(v, project, topic, sentence))
    sentence, facts["spec"] = topic_sentence(v, cname, topic)
    spec = v.add(f"Specs/{tname} spec ({i}).md", f"# {tname} spec\n\nFor {link(path)}. {v.filler(30)}\n\n"
                                                f"## Requirements\n\n- {sentence}\n- {v.filler(15)}\n")
    sentence, facts["ticket"] = topic_sentence(v, cname, topic)
    ticket = v.add(f"Support/Ticket T{i:03d}.md", f"---\ntype: ticket\ndate: {day(v)}\n---\n# Ticket\n\n"
                                                 f"Call from {cname} about {tname}. {sentence} "
                                                 f"{v.filler(20)}\n")
    where = {"customer": customer, "customer2": customer, "project": project, "meeting": meeting,
             "decision": decision, "spec": spec, "ticket": ticket}
    return {"path": path, "customer": customer, "project": project, "topic": tname,
            "facts": {kind: {"code": facts[kind], "note": where[kind]} for kind in FACT_KINDS}}


def task_text(v: Vault, cname: str, project: str, topic: int) -> str:
    tname, words = TOPICS[topic]
    return (f"---\ntags: [task]\nstatus: draft\ncustomer: \"[[{cname}]]\"\nproject: \"{link(project)}\"\n"
            f"repo: \"[[example-app]]\"\n---\n# {tname} for {cname}\n\n## Goal\n\n"
            f"{cname} wants {tname} ({words}) in {name_of(project)}.\n\n## Acceptance criteria\n\n"
            f"- [ ] {tname} works for {cname}\n- [ ] tests cover it\n")


def make_other_tasks(v: Vault, customers: list[str], projects: list[str], count: int) -> None:
    for i in range(count):
        cname, topic = name_of(v.rng.choice(customers)), v.rng.randrange(len(TOPICS))
        v.add(f"Tasks/Backlog {i} {TOPICS[topic][0]}.md", task_text(v, cname, v.rng.choice(projects), topic))


def make_private(v: Vault, customers: list[str], count: int, tasks: list[dict]) -> list[str]:
    """Private notes that a careless pack would pick: they link the customer and use the topic's words."""
    codes = []
    for i in range(count):
        task = tasks[i % len(tasks)] if tasks else None
        customer = task["customer"] if task else v.rng.choice(customers)
        cname = name_of(customer)
        topic = next((n for n, t in enumerate(TOPICS) if task and t[0] == task["topic"]), 0)
        sentence, code = topic_sentence(v, cname, topic, prefix="priv")
        codes.append(code)
        style = i % 3
        if style == 0:
            text = f"---\nprivate: true\n---\n# {cname} renewal\n\nAbout [[{cname}]]: {sentence} {v.filler(20)}\n"
            path = f"Notes/{cname} renewal {i}.md"
        elif style == 1:
            text = f"# 1:1 about {cname} #private\n\nRe [[{cname}]] and {TOPICS[topic][0]}: {sentence}\n"
            path = f"Meetings/{day(v)} {cname} private {i}.md"
        else:
            text = f"# {cname} margins\n\n[[{cname}]] {TOPICS[topic][0]} ({TOPICS[topic][1]}): {sentence}\n"
            path = f"{PRIVATE_FOLDER}/{cname} margins {i}.md"
        v.add(path, text)
        if style == 0:
            v.append(customer, f"- See {link(path)} before the call.")
    return codes


def make_secrets(v: Vault, customers: list[str]) -> list[str]:
    secrets = []
    for i, customer in enumerate(customers[: max(len(customers) // 4, 1)]):
        key = f"sk-ant-api03-{v.code().replace('-', '')}{i:04d}abcdefghijkl"
        password = f"Pw{v.code().replace('-', '')}!"
        v.append(customer, f"\nStaging access: api_key: {key}\npassword: {password}\n")
        secrets += [key, password]
    return secrets


def make_filler(v: Vault, n: int) -> None:
    i = 0
    while len(v.files) < n:
        v.add(f"Reading/Note {i}.md", f"# Reading note {i}\n\n{v.filler(60)}\n\n## Takeaways\n\n- {v.filler(15)}\n")
        i += 1


# ---------------------------------------------------------------- writing


def generate(out_dir: Path, n: int, seed: int = 1, tasks: int = 40, force: bool = False) -> dict:
    out_dir = Path(out_dir)
    manifest_path = out_dir.with_suffix(".json")
    if out_dir.exists() and manifest_path.exists() and not force:
        manifest = json.loads(manifest_path.read_text())
        if (manifest.get("notes_requested"), manifest.get("seed"), len(manifest["tasks"]),
                manifest.get("version")) == (n, seed, tasks, GENERATOR_VERSION):
            return manifest
    if out_dir.exists():
        shutil.rmtree(out_dir)
    vault, manifest = build(n, seed, tasks)
    for rel, text in vault.files.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    manifest["notes_requested"] = n
    manifest["version"] = GENERATOR_VERSION
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    manifest = generate(args.out, args.notes, args.seed, args.tasks, args.force)
    print(json.dumps({k: manifest[k] for k in ("notes", "seed")} | {"tasks": len(manifest["tasks"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
