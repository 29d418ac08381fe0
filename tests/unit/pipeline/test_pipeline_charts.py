"""The report's inline-SVG charts: readable axes, escaped labels, and a visible panel (not a blank
area) when there is nothing to draw."""

from __future__ import annotations

import pytest

from coretelecoms.pipeline import charts


@pytest.mark.parametrize(
    ("value", "peak"),
    [(176_631, 200_000), (339.9, 400), (9, 10), (0.3, 0.4), (1_000, 1_000), (0, 1.0)],
)
def test_axis_top_is_a_round_number_at_or_above_the_data(value: float, peak: float) -> None:
    assert charts.nice_peak(value) == pytest.approx(peak)


@pytest.mark.parametrize(
    "draw",
    [
        pytest.param(lambda: charts.bar_chart("t", [], empty_message="nothing here"), id="bars"),
        pytest.param(
            lambda: charts.stacked_columns("t", ["a"], {"s": [0]}, empty_message="nothing here"),
            id="stacked",
        ),
        pytest.param(
            lambda: charts.line_chart("t", [], {}, empty_message="nothing here"), id="lines"
        ),
    ],
)
def test_empty_input_draws_a_panel_that_says_so(draw) -> None:
    svg = draw()
    assert svg.startswith("<svg") and "nothing here" in svg and "<rect" in svg


def test_labels_are_escaped_and_values_printed() -> None:
    svg = charts.bar_chart("<b>", [("a<script>", 1234.0), ("b", 5.0)], unit="%")
    assert "<script>" not in svg and "a&lt;script&gt;" in svg
    assert "1,234%" in svg and "5%" in svg


def test_one_colour_per_bar_when_given_a_list() -> None:
    svg = charts.bar_chart("t", [("a", 1.0), ("b", 2.0)], color=["#111111", "#222222"])
    assert "fill='#111111'" in svg and "fill='#222222'" in svg
