"""Obsidian's grammar, one rule at a time, plus properties that must hold for any text."""

from __future__ import annotations

import math
import re

import pytest
import yaml
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from vaultzoe.vault import properties, syntax
from vaultzoe.vault.syntax import PropertiesLoader, load_properties


def tags(text: str) -> list[str]:
    masked = syntax.mask(text)
    hidden = [(s, e) for s, e, *_ in syntax.find_wikilinks(masked)]
    return [tag for _, tag in syntax.find_tags(masked, hidden)]


def links(text: str) -> list[tuple[str, str, bool]]:
    masked = syntax.mask(text)
    found = syntax.find_wikilinks(masked) + syntax.find_markdown_links(masked)
    return [(link, display, embed) for _, _, embed, link, display in sorted(found)]


# ---------------------------------------------------------------- tags

@pytest.mark.parametrize("text, expected", [
    ("#tag", ["#tag"]),
    ("a #tag b", ["#tag"]),
    ("#nested/tag/deep", ["#nested/tag/deep"]),
    ("#kebab-case and #snake_case", ["#kebab-case", "#snake_case"]),
    ("#café #日本語 #😀 #Σημειώσεις", ["#café", "#日本語", "#😀", "#Σημειώσεις"]),
    ("#y1984 #1984 #2024-05", ["#y1984", "#2024-05"]),
    ("#123", []),
    ("end of sentence #tag.", ["#tag"]),
    ("#tag, #other; #third: #fourth!", ["#tag", "#other", "#third", "#fourth"]),
    ("#tag's #a(b) #a[b] #a{b} #a\"b", ["#tag", "#a", "#a", "#a", "#a"]),
    ("#em—dash #zero\u200bwidth", ["#em", "#zero"]),
    ("\t#tab \u00a0#nbsp \u3000#ideographic", ["#tab", "#nbsp", "#ideographic"]),
    ("#tl#tm", ["#tl", "#tm"]),
    ("x _#uc_ y", ["#uc"]),
    ("snake_case_#wc", ["#wc"]),
    ("|a|b|\n|-|-|\n|#uo|x|", ["#uo"]),
    ("[Discord #tf](https://x.y)", ["#tf"]),
    (r"\[\[#Escaped Links\]\]", ["#Escaped"]),
])
def test_tag_grammar(text, expected):
    assert tags(text) == expected


@pytest.mark.parametrize("text", [
    "word#tag", "(#pa)", '"#pc"', ".#pd", "x—#pe", "https://example.com/page#anchor",
    r"\#escaped", "# heading is not a tag", "## Heading", "[[Note#Heading]]", "[[#Local heading]]",
    "[t](Note.md#heading)", "[t](#heading)", "`#code`", "``#code with ` inside``", "$#math$",
    "m $a #ra b$ n", "x $$ #rb $$ y", "$$\n#qd\n$$", "<!-- #comment -->", "<!--\n#multi\nline\n-->",
    "```\n#fenced\n```", "~~~\n#tilde\n~~~", "> ```\n> #in-callout-code\n> ```",
    "<div>\nhello #tp\n</div>", "<p>x #tr</p>",
])
def test_no_tag(text):
    assert tags(text) == []


def test_percent_comments_do_count():
    assert tags("%% #hidden-but-indexed %%") == ["#hidden-but-indexed"]
    assert links("%% [[Commented]] %%") == [("Commented", "Commented", False)]


def test_code_fence_rules():
    text = "```markdown\nx #tu\n```\nprose #tv\n```\ncode #tw\n```"
    assert tags(text) == ["#tv"]
    assert tags("````\n```\n#inside\n````\n#after") == ["#after"]
    assert tags("```\n#unclosed fence runs to the end") == []
    assert tags("```js `x`\n#not-a-fence") == ["#not-a-fence"]


def test_code_span_needs_a_matching_run():
    assert tags("`unclosed #tag") == ["#tag"]
    assert tags("``a`b`` #tag") == ["#tag"]
    assert tags("`a\n\n#tag` spans no blank line") == ["#tag"]


def test_tag_key_and_names():
    assert syntax.tag_key("#Project/A") == "project/a"
    assert syntax.is_tag_name("#a/b") and syntax.is_tag_name("x")
    assert not syntax.is_tag_name("#123") and not syntax.is_tag_name("a b")


@pytest.mark.parametrize("value, expected", [
    (None, []), ("one", ["#one"]), ("#one ", ["#one"]), (["x", "#y"], ["#x", "#y"]),
    # Obsidian: "tags: a, b" is one text value that is no tag (obsidian-tasks
    # tests/Obsidian/__test_data__/yaml_tags_with_two_values_on_one_line.json: parseFrontMatterTags [])
    ("a, b c", []), ("value-1-of-2-on-one-line, value-2-of-2-on-one-line", []), ("a b", []),
    ([1, None, "z"], ["#1", "#z"]), ({"not": "tags"}, []),
])
def test_frontmatter_tags(value, expected):
    assert syntax.frontmatter_tags(value) == expected


def test_frontmatter_aliases():
    assert syntax.frontmatter_aliases("a, b") == ["a", "b"]
    assert syntax.frontmatter_aliases(["A b", None]) == ["A b"]


# ---------------------------------------------------------------- links

@pytest.mark.parametrize("text, expected", [
    ("[[X]]", [("X", "X", False)]),
    ("[[X|alias]]", [("X", "alias", False)]),
    ("[[X#Heading]]", [("X#Heading", "X > Heading", False)]),
    ("[[X#^block]]", [("X#^block", "X > ^block", False)]),
    ("![[embed.png]]", [("embed.png", "embed.png", True)]),
    ("![[X|300]]", [("X", "300", True)]),
    ("[[folder/X]]", [("folder/X", "folder/X", False)]),
    ("[[#Local heading]]", [("#Local heading", "Local heading", False)]),
    ("[[#h#sub||alias]]", [("#h#sub", "|alias", False)]),
    ("| a | [[X\\|alias]] |", [("X", "alias", False)]),
    ("[[|]] [[|alias]] [[|#a]]", [("|", "|", False), ("|alias", "|alias", False), ("|#a", "| > a", False)]),
    ("[[]]", []),
    ("\\[[not a link]]", []),
    ("`[[code]]`", []),
    ("[t](Some%20Note.md)", [("Some Note.md", "t", False)]),
    ("[t](<Some Note.md>)", [("Some Note.md", "t", False)]),
    ("[t](Note.md \"title\")", [("Note.md", "t", False)]),
    ("![alt](img.png)", [("img.png", "alt", True)]),
    ("[t](pa#th/x.md)", [("pa#th/x.md", "t", False)]),
    ("[heading](#heading)", [("#heading", "heading", False)]),
    ("[a [nested] text](x.md)", [("x.md", "a [nested] text", False)]),
    ("[t](Caf%C3%A9.md)", [("Café.md", "t", False)]),
    ("[t](bad%ZZ%C3.md)", [("bad%ZZ%C3.md", "t", False)]),
    ("[t](https://example.com) [m](mailto:a@b.c) [o](obsidian://open?x)", []),
    ("[]() [alias]()", []),
    ("[t](with space.md)", []),
])
def test_link_grammar(text, expected):
    assert links(text) == expected


def test_link_display_text():
    assert syntax.link_display("X") == "X"
    assert syntax.link_display("X#a#b") == "X > a > b"
    assert syntax.link_display("#^id") == "^id"


def test_property_links_keys():
    found = syntax.property_links({
        "a": "[[A]]", "list": ["[[B|b]]", "plain", "[[C]]"], "nested": {"k": "[[D]]"},
        "text": "see [[E]] here", "unquoted": [["F"]],
    })
    assert [(key, link, display) for _, key, link, display, _ in found] == [
        ("a", "A", "A"), ("list.0", "B", "b"), ("list.2", "C", "C"), ("nested.k", "D", "D")]


# ---------------------------------------------------------------- headings and lists

def test_headings():
    text = "# One\n#notheading\n   ### Three ###\n    # indented code\nPara\n===\n\nText\n---\n- item\n---\n"
    found = [(level, title) for _, level, title in syntax.find_headings(syntax.mask(text))]
    assert found == [(1, "One"), (3, "Three"), (1, "Para"), (2, "Text")]


def test_in_list_item():
    text = "- [ ] #task box\n  continued #task\n\nplain #task\n1. item\nlazy #task\n\n> - quoted #task"
    offsets = [i for i in range(len(text)) if text.startswith("#task", i)]
    assert [syntax.in_list_item(text, o) for o in offsets] == [True, True, False, True, True]


# ---------------------------------------------------------------- frontmatter

def test_split_frontmatter():
    assert syntax.split_frontmatter("---\na: 1\n---\nbody") == ("a: 1\n", 13)
    assert syntax.split_frontmatter("---\r\na: 1\r\n---\r\nbody") == ("a: 1\r\n", 16)
    assert syntax.split_frontmatter("---\n---\n") == ("", 8)
    assert syntax.split_frontmatter("---\na: 1\n") == (None, 0)
    assert syntax.split_frontmatter("----\na: 1\n---\n") == (None, 0)
    assert syntax.split_frontmatter("text\n---\na: 1\n---\n") == (None, 0)


@pytest.mark.parametrize("source, expected", [
    ("date: 2024-07-21", {"date": "2024-07-21"}),
    ("when: 2024-05-25T15:17:00", {"when": "2024-05-25T15:17:00"}),
    ("a: yes\nb: no\nc: on\nd: off\ne: y", {"a": "yes", "b": "no", "c": "on", "d": "off", "e": "y"}),
    ("t: true\nf: False\nn: null\nm: ~\ne:", {"t": True, "f": False, "n": None, "m": None, "e": None}),
    ("i: 42\nneg: -3\no: 0o17\nx: 0x1F\nf: 1.5\ne: 1e3", {"i": 42, "neg": -3, "o": 15, "x": 31, "f": 1.5, "e": 1000.0}),
    ("s: 1_000\nv: 1.2.3\nt: 12:30", {"s": "1_000", "v": "1.2.3", "t": "12:30"}),
    ("tags: [a, b]\naliases:\n  - X\n  - Y", {"tags": ["a", "b"], "aliases": ["X", "Y"]}),
    ("l:\n-\n-", {"l": [None, None]}),
    ("q: \"[[Link]]\"\nr: '[[Other]]'", {"q": "[[Link]]", "r": "[[Other]]"}),
    ("multi: |\n  line 1\n  line 2\n", {"multi": "line 1\nline 2\n"}),
    ("1: one\ntrue: t\nnull: n", {"1": "one", "true": "t", "null": "n"}),
    ("# only a comment", {}),
])
def test_properties_like_obsidian(source, expected):
    assert load_properties(source) == (expected, None)


def test_special_floats():
    props, _ = load_properties("a: .inf\nb: -.Inf\nc: .nan")
    assert props["a"] == math.inf and props["b"] == -math.inf and math.isnan(props["c"])


@pytest.mark.parametrize("source", [
    "a: [unclosed", "a: b: c", "key: 'unterminated", "a: 1\na: 2", "\tindented: tab", "- just\n- a list",
    "scalar only", "a: !!python/object:os.system x", "a: *undefined",
])
def test_bad_properties_warn(source):
    props, warning = load_properties(source)
    assert props == {} and warning


# The fast path must read simple frontmatter exactly as the full YAML loader does.
_word = st.text(st.sampled_from("abcxyzABC019 -_./:#'\"[],yesnotruefalsenul~"), min_size=0, max_size=12)
_key = st.text(st.sampled_from("abcdefXYZ_0123 -."), min_size=1, max_size=8)


@st.composite
def _frontmatter(draw) -> str:
    lines = []
    for key in draw(st.lists(_key, min_size=1, max_size=5)):
        shape = draw(st.sampled_from(["plain", "dq", "sq", "flow", "block", "empty", "comment"]))
        if shape == "plain":
            lines.append(f"{key}: {draw(_word)}")
        elif shape == "dq":
            lines.append(f'{key}: "{draw(_word)}"')
        elif shape == "sq":
            lines.append(f"{key}: '{draw(_word)}'")
        elif shape == "flow":
            lines.append(f"{key}: [{', '.join(draw(st.lists(_word, max_size=3)))}]")
        elif shape == "block":
            lines.append(f"{key}:")
            indent = draw(st.sampled_from(["", "  ", "    "]))
            lines.extend(f"{indent}- {item}" for item in draw(st.lists(_word, min_size=1, max_size=3)))
        elif shape == "empty":
            lines.append(f"{key}:")
        else:
            lines.append(f"# {draw(_word)}")
    return "\n".join(lines) + "\n"


def _full_yaml(source: str):
    try:
        data = yaml.load(source, Loader=PropertiesLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return "error"
    if not isinstance(data, dict):
        return "error" if data is not None else {}
    return data


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=200, deadline=None)
@given(_frontmatter())
@example("a: -1\nb: +2\n")
@example("x: [a, 'b', \"c\"]\n")
def test_fast_path_agrees_with_full_yaml(source):
    try:
        fast = properties._fast_yaml(source)
    except properties._NotSimple:
        return                    # the full loader reads it; nothing to compare
    assert _same(fast, _full_yaml(source)), source


# ---------------------------------------------------------------- properties of masking and tags

_code_text = st.text(st.sampled_from("ab #/[]|!-_ \n`<>$%"), max_size=40)


@settings(max_examples=150, deadline=None)
@given(_code_text)
def test_mask_keeps_length_and_lines(text):
    masked = syntax.mask(text)
    assert len(masked) == len(text)
    assert [i for i, c in enumerate(masked) if c == "\n"] == [i for i, c in enumerate(text) if c == "\n"]


@settings(max_examples=150, deadline=None)
@given(st.text(st.sampled_from("ab #/_-xé😀\t"), max_size=30), st.sampled_from(["`", "``", "```\n", "~~~\n"]))
@example("#_", "```\n")
def test_no_tags_inside_code(inner, fence):
    assume("`" not in inner and "~~~" not in inner)
    if fence in ("`", "``"):
        closing, text = fence, f"before {fence}{inner}{fence} after"
    else:
        closing = "\n" + fence
        text = f"before\n{fence}{inner}{closing}after"
    code_start = text.index(fence) + len(fence)
    code_end = text.rindex(closing)
    masked = syntax.mask(text)
    assert all(not code_start <= offset < code_end for offset, _ in syntax.find_tags(masked))


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=0, max_size=60))
def test_found_tags_are_valid_tags(text):
    for offset, tag in syntax.find_tags(syntax.mask(text)):
        assert syntax.is_tag_name(tag)
        assert text[offset] == "#"


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_finders_never_raise(text):
    masked = syntax.mask(text)
    syntax.find_tags(masked)
    syntax.find_wikilinks(masked)
    syntax.find_markdown_links(masked)
    syntax.find_headings(masked)
    load_properties(text)


_REFERENCE_DEST = re.compile(     # the plain reading of a link destination, to check the fast pattern
    r"\([ \t]*(?:<([^<>\n]*)>|((?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))+))"
    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*\)")


@settings(max_examples=150, deadline=None)
@given(st.text(st.sampled_from("ab %2.\\()<> \"'\t\n/#"), max_size=25))
@example("(a\\)b)")
@example("((x)y.md)")
def test_destination_pattern_matches_the_plain_reading(text):
    fast = syntax._MD_DEST.match(text)
    plain = _REFERENCE_DEST.match(text)
    assert (fast and fast.group(0), fast and fast.groups()) == (plain and plain.group(0), plain and plain.groups())


_tag_body = st.text(st.sampled_from("abzAZ09_-/éßж日😀"), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(_tag_body, st.sampled_from([" ", "\t", "\n", "", "_", "*", "|", "["]),
       st.sampled_from([" ", ".", ",", "!", "?", ")", ":", ";", "\n", ""]))
def test_a_tag_is_found_whole_between_boundaries(body, before, after):
    text = (f"x{before}" if before else "") + f"#{body}" + (f"{after}y" if after else "")
    expected = [] if body.isdigit() else ["#" + (body.rstrip("_") if before == "_" else body)]
    if expected == ["#"]:
        expected = []
    assert tags(text) == expected
