"""links.py without a disk: Obsidian's resolution over plain tables, and the link graph's bookkeeping."""

from __future__ import annotations

from vaultzoe.vault.links import LinkGraph, Resolver, escaping_links, fold, name_key, normalize, unresolved_keys
from vaultzoe.vault.note import parse_record


def tables(*paths: str) -> tuple[dict, dict, dict]:
    stat = {p: (0, 0) for p in paths}
    lower = {fold(p): p for p in paths}
    by_name: dict[str, list[str]] = {}
    for p in paths:
        by_name.setdefault(fold(p.rsplit("/", 1)[-1]), []).append(p)
    return stat, lower, by_name


def test_helpers_fold_names_and_normalize_paths():
    assert fold("Caf\u0065\u0301.MD") == fold("Caf\u00e9.md") == "caf\u00e9.md"      # NFD names, NFC links
    assert name_key("A/B/Note.md") == name_key("note") == "note"
    assert normalize("a/./b/../c") == "a/c" and normalize("a/../../x") is None and normalize("a/b") == "a/b"
    record = parse_record("[[../../x]] [[../y]] [[z]]")
    assert escaping_links(record, "A/src.md") == ("link [[../../x]] points outside the vault: left unresolved",)


def test_resolver_reads_the_tables_it_was_given_once_it_forgets():
    stat, lower, by_name = tables("A/Dup.md", "B/Dup.md", "A/src.md", "pic.png")
    resolver = Resolver(stat, lower, by_name)
    assert resolver.resolve("Dup", "A/src.md") == "A/Dup.md"            # the source's own folder first
    assert resolver.resolve("Dup", "C/x.md") == "A/Dup.md"              # else the shallowest, by path
    assert resolver.resolve("", "A/src.md") == "A/src.md"
    assert resolver.targets(tuple(parse_record("[[Dup]] [[pic]] [[pic.png]] [[#h]]")[2]), "A/src.md") == (
        "A/Dup.md", None, "pic.png", "A/src.md")
    stat["Dup.md"], lower["dup.md"] = (0, 0), "Dup.md"                  # a shallower namesake arrives
    by_name["dup.md"].append("Dup.md")
    assert resolver.resolve("Dup", "C/x.md") == "A/Dup.md"              # memoized until told
    resolver.forget()
    assert resolver.resolve("Dup", "C/x.md") == "Dup.md"


def test_link_graph_link_then_unlink_leaves_nothing():
    record = parse_record("[[a]] [[a]] [[gone]] [[b#h]]")
    targets = ("a.md", "a.md", None, "b.md")
    graph = LinkGraph()
    graph.link("s.md", targets, unresolved_keys(record, targets))
    assert graph.backlinks == {"a.md": {"s.md": 2}, "b.md": {"s.md": 1}}
    assert graph.unresolved_by_key == {"gone": {"s.md"}}
    assert graph.link_counts() == {"s.md": {"a.md": 2, "b.md": 1}}
    assert graph.unresolved(lambda source: record) == {"s.md": {"gone": 1}}
    assert graph.affected("gone", (), ["x/b.md"]) == {"s.md"}
    assert graph.affected("b", {"t.md"}, ["b.md"]) == {"s.md", "t.md"}
    graph.unlink("s.md", record)
    graph.resolved.pop("s.md")
    assert (graph.backlinks, graph.unresolved_by_key, graph.resolved) == ({}, {}, {})


def test_link_graph_merges_shares_counted_elsewhere():
    graph = LinkGraph()
    graph.link("s.md", ("a.md",), (), ())                                # counted in a share instead
    graph.link("t.md", ("a.md",), ())
    graph.merge([{"a.md": {"s.md": 1}, "c.md": {"s.md": 3}}])
    assert graph.backlinks == {"a.md": {"t.md": 1, "s.md": 1}, "c.md": {"s.md": 3}}
