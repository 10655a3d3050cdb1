import pytest

from slipway_demo.cards import is_rendered, is_valid_slug, public_view, render_markdown, source_digest


@pytest.mark.parametrize("slug", ["helloworld", "demo", "a", "card-2", "x" * 64, "a-b-c1"])
def test_valid_slugs(slug):
    assert is_valid_slug(slug)


@pytest.mark.parametrize(
    "slug",
    ["", "Hello", "-a", "a-", "a--b", "a_b", "a b", "a/b", "x" * 65, "ünï", "$where", "a.b", "a\n"],
)
def test_invalid_slugs(slug):
    assert not is_valid_slug(slug)


def test_renders_markdown():
    html = render_markdown("# Title\n\nSome **bold** text.\n\n```\ncode <here>\n```\n\n| a |\n|---|\n| 1 |\n")
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "<pre><code>code &lt;here&gt;\n</code></pre>" in html
    assert "<td>1</td>" in html


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "<div>\nblock\n</div>", "x <b onclick=steal()>y</b>"])
def test_raw_html_is_escaped(text):
    html = render_markdown(text)
    assert "<script" not in html and "<div" not in html and "<b " not in html
    assert "&lt;" in html


def test_only_safe_link_schemes_survive():
    html = render_markdown(
        "[a](javascript:alert(1)) [b](https://example.org/) [c](/card/demo) "
        "[d](JavaScript:x) ![e](data:image/png;base64,AAAA) [f](mailto:x@example.org) [g](vbscript:x)"
    )
    assert 'href="https://example.org/"' in html
    assert 'href="/card/demo"' in html
    assert 'href="mailto:x@example.org"' in html
    for bad in ("javascript", "JavaScript", "data:", "vbscript"):
        assert bad not in html


def test_control_characters_in_a_url_are_refused():
    assert "href" not in render_markdown("[a](java&#9;script:x)")
    assert "href" not in render_markdown("[a](<java\tscript:x>)")


def test_rendered_only_while_html_matches_markdown():
    card = {"slug": "s", "title": "T", "markdown": "new"}
    assert not is_rendered(card)
    assert not is_rendered({**card, "html": "<p>old</p>", "html_source": source_digest("old")})
    assert is_rendered({**card, "html": "<p>new</p>", "html_source": source_digest("new")})


def test_public_view_hides_stale_html_and_internal_fields():
    stale = {"slug": "s", "title": "T", "markdown": "new", "html": "<p>old</p>", "html_source": source_digest("old")}
    assert public_view(stale) == {"slug": "s", "title": "T", "markdown": "new", "html": None, "rendered": False}
    fresh = {**stale, "html": "<p>new</p>", "html_source": source_digest("new")}
    assert public_view(fresh)["html"] == "<p>new</p>"
    assert public_view(fresh)["rendered"] is True


def test_character_references_cannot_hide_a_scheme():
    assert "href" not in render_markdown("[a](&#106;avascript:alert(1))")
    assert "href" not in render_markdown("[a](javascript&colon;alert(1))")
