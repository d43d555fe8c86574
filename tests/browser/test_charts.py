"""The monitor's charts on a small phone and on a desktop: no text under 12 px as drawn, no
label cut off (by the drawing's edge or by shortening), no sideways scrolling of the page."""

import pytest

from tests.browser.pages import assert_accessible, log_in, no_sideways_scrolling, speak

# For every text of every chart: its drawn font size (the computed size times the drawing's
# scale), whether it lies inside the drawing, and its words.
MEASURE = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  return {key: svg.id, texts: [...svg.querySelectorAll('text')].map(text => {
    const r = text.getBoundingClientRect();
    return {words: text.textContent,
            size: parseFloat(getComputedStyle(text).fontSize) * Math.hypot(
                text.getScreenCTM().a, text.getScreenCTM().b),
            inside: r.left >= box.left - 0.5 && r.right <= box.right + 0.5 &&
                    r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5};
  })};
})"""
HEADINGS = """() => [...document.querySelectorAll('#matrix-heading ~ .table-wrap thead th')]
  .slice(1).map(th => th.textContent.trim())"""


@pytest.mark.parametrize(("language", "width"), [("nl", 320), ("en", 320), ("nl", 1280)])
def test_charts_are_legible_and_nothing_is_cut(new_page, language, width):
    page = new_page(locale="nl-NL", viewport={"width": width, "height": 900})
    log_in(page, "coordinator@demo.example")
    speak(page, language)
    page.goto("/monitor/")
    charts = page.evaluate(MEASURE)
    assert len(charts) >= 5
    for chart in charts:
        for text in chart["texts"]:
            assert text["size"] >= 12 - 0.01, (chart["key"], text)
            assert text["inside"], (chart["key"], text)
            assert not text["words"].endswith(("…", "...")), (chart["key"], text)
    # The heat map's column headings are the organisations' whole names.
    heat = page.locator("svg.chart[id='matrix-chart'] text.column").all_text_contents()
    assert heat and heat == page.evaluate(HEADINGS)
    assert no_sideways_scrolling(page)
    assert_accessible(page)
