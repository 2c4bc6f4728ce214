//! Time-series charts: plotters drawing on a canvas, in the browser only.
//!
//! Every chart shares one time axis: the visible range (`view`, set by wheel
//! zoom and drag, reset by double-click) and the hovered time (`hover`, drawn
//! as a crosshair with values on every chart at once) are signals owned by
//! the page. The canvas backing store is CSS size times devicePixelRatio, so
//! lines and text stay crisp on high-DPI screens.

use leptos::prelude::*;

/// One series on a chart; `None` values break the line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    pub color: &'static str,
    pub values: Vec<Option<f64>>,
    pub width: f64,
}

/// What a trade marker shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// Entered long the spread (green triangle).
    Long,
    /// Entered short the spread (red triangle).
    Short,
    /// Closed (a cross).
    Exit,
}

impl MarkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MarkKind::Long => "long",
            MarkKind::Short => "short",
            MarkKind::Exit => "exit",
        }
    }
}

/// A backtest fill drawn on a chart: at a bar's time and a value there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    pub ts: i64,
    pub value: f64,
    pub kind: MarkKind,
}

/// What a chart draws besides its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    pub lines: Vec<Line>,
    /// Horizontal reference lines: (y, color).
    pub hlines: Vec<(f64, &'static str)>,
    /// Dashed horizontal guides: (y, color, name), e.g. suggested bands.
    pub guides: Vec<(f64, &'static str, &'static str)>,
    /// Shaded horizontal zones: (from y, to y, color).
    pub zones: Vec<(f64, f64, &'static str)>,
    /// Shaded time spans: (from ms, to ms, color), e.g. drawdowns.
    pub spans: Vec<(i64, i64, &'static str)>,
    /// Entry and exit markers.
    pub marks: Vec<Mark>,
    /// Decimals for the y labels and hover values.
    pub decimals: usize,
}

impl Default for ChartSpec {
    fn default() -> Self {
        ChartSpec {
            lines: Vec::new(),
            hlines: Vec::new(),
            guides: Vec::new(),
            zones: Vec::new(),
            spans: Vec::new(),
            marks: Vec::new(),
            decimals: 2,
        }
    }
}

/// Plot-area geometry in CSS pixels; the drawing code and the mouse handlers
/// must agree on it to map a pointer position to a time.
pub const MARGIN: f64 = 8.0;
pub const Y_LABELS: f64 = 64.0;
pub const X_LABELS: f64 = 22.0;

/// Visible time range: the zoomed view or all of `ts`.
pub fn visible(ts: &[i64], view: Option<(i64, i64)>) -> Option<(i64, i64)> {
    let (first, last) = (*ts.first()?, *ts.last()?);
    Some(match view {
        Some((a, b)) if b > a => (a.max(first), b.min(last).max(a.max(first) + 1)),
        _ => (first, last.max(first + 1)),
    })
}

/// Time under a pointer at `px` (CSS pixels) on a canvas `width` wide.
pub fn time_at(px: f64, width: f64, range: (i64, i64)) -> i64 {
    let left = MARGIN + Y_LABELS;
    let right = (width - MARGIN).max(left + 1.0);
    let f = ((px - left) / (right - left)).clamp(0.0, 1.0);
    range.0 + ((range.1 - range.0) as f64 * f).round() as i64
}

/// Index of the timestamp nearest `t` (ts ascending).
pub fn nearest(ts: &[i64], t: i64) -> Option<usize> {
    if ts.is_empty() {
        return None;
    }
    let i = ts.partition_point(|x| *x < t);
    if i == 0 {
        return Some(0);
    }
    if i >= ts.len() {
        return Some(ts.len() - 1);
    }
    Some(if t - ts[i - 1] <= ts[i] - t { i - 1 } else { i })
}

/// Zoom `range` by `factor` (<1 zooms in) around time `at`, within `full`.
pub fn zoom(range: (i64, i64), at: i64, factor: f64, full: (i64, i64)) -> (i64, i64) {
    let span = ((range.1 - range.0) as f64 * factor).max(2.0);
    let f = (at - range.0) as f64 / (range.1 - range.0).max(1) as f64;
    let a = at - (span * f) as i64;
    let b = a + span as i64;
    (a.max(full.0), b.min(full.1))
}

/// The points of one line to draw over `range` on `columns` pixel columns,
/// as unbroken segments (a missing or non-finite value breaks the line).
///
/// A segment with more than four points per column is reduced to the first,
/// lowest, highest and last point of each column, in time order (M4
/// aggregation): the polyline through them lights the same pixels as the
/// one through every point, so a month of minutes draws as fast as a few
/// thousand points and no spike disappears. Only drawing is reduced; the
/// analytics and the hover values use every bar.
pub fn drawable(
    ts: &[i64],
    values: &[Option<f64>],
    range: (i64, i64),
    columns: usize,
) -> Vec<Vec<(i64, f64)>> {
    let mut segments: Vec<Vec<(i64, f64)>> = Vec::new();
    let mut seg: Vec<(i64, f64)> = Vec::new();
    for (t, v) in ts.iter().zip(values) {
        match v {
            Some(v) if v.is_finite() => seg.push((*t, *v)),
            _ => {
                if !seg.is_empty() {
                    segments.push(std::mem::take(&mut seg));
                }
            }
        }
    }
    if !seg.is_empty() {
        segments.push(seg);
    }
    let columns = columns.max(1);
    let span = (range.1 - range.0).max(1) as f64;
    for seg in &mut segments {
        if seg.len() <= 4 * columns {
            continue;
        }
        let col = |t: i64| (((t - range.0) as f64 / span) * columns as f64).floor() as i64;
        let mut out: Vec<(i64, f64)> = Vec::with_capacity(4 * columns + 4);
        let mut i = 0;
        while i < seg.len() {
            let c = col(seg[i].0);
            let mut j = i;
            let (mut lo, mut hi) = (i, i);
            while j < seg.len() && col(seg[j].0) == c {
                if seg[j].1 < seg[lo].1 {
                    lo = j;
                }
                if seg[j].1 > seg[hi].1 {
                    hi = j;
                }
                j += 1;
            }
            let mut keep = [i, lo, hi, j - 1];
            keep.sort_unstable();
            let mut last = usize::MAX;
            for k in keep {
                if k != last {
                    out.push(seg[k]);
                    last = k;
                }
            }
            i = j;
        }
        *seg = out;
    }
    segments
}

#[component]
pub fn TimeChart(
    title: Signal<String>,
    ts: Signal<Vec<i64>>,
    spec: Signal<ChartSpec>,
    view: RwSignal<Option<(i64, i64)>>,
    hover: RwSignal<Option<i64>>,
    #[prop(into)] testid: String,
    #[prop(optional, into)] help: String,
    /// Exchange time of the newest live trade drawn; written to the canvas
    /// as `data-last-ts` after each draw (tick-to-screen measurements).
    #[prop(optional)]
    stamp: Option<Signal<Option<i64>>>,
) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let drag: StoredValue<Option<(f64, (i64, i64))>> = StoredValue::new(None);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let t = ts.get();
        let s = spec.get();
        let v = view.get();
        let h = hover.get();
        let drawn_tick = stamp.and_then(|s| s.get());
        if let Some(c) = canvas.get() {
            let started = js_sys_now();
            if let Err(e) = draw::chart(&c, &t, &s, v, h) {
                leptos::logging::warn!("chart draw failed: {e}");
            }
            let _ = c.set_attribute("data-draw-ms", &format!("{:.2}", js_sys_now() - started));
            let _ = c.set_attribute("data-points", &t.len().to_string());
            // Values actually drawn (finite, on any line): browser tests
            // tell a drawn chart from an empty frame by it.
            let drawn: usize = s
                .lines
                .iter()
                .map(|l| l.values.iter().flatten().filter(|v| v.is_finite()).count())
                .sum();
            let _ = c.set_attribute("data-values", &drawn.to_string());
            // The lines with something drawn, by name (the executable band
            // of the spread chart appears only where both legs are quoted).
            let names: Vec<&str> = s
                .lines
                .iter()
                .filter(|l| l.values.iter().flatten().any(|v| v.is_finite()))
                .map(|l| l.name.as_str())
                .collect();
            let _ = c.set_attribute("data-lines", &names.join(","));
            // Markers as `time:kind` and shaded spans as `from-to`, so a
            // browser test can hold them against the API's trades.
            let marks: Vec<String> = s
                .marks
                .iter()
                .map(|m| format!("{}:{}", m.ts, m.kind.as_str()))
                .collect();
            let _ = c.set_attribute("data-marks", &marks.join(","));
            let spans: Vec<String> = s.spans.iter().map(|(a, b, _)| format!("{a}-{b}")).collect();
            let _ = c.set_attribute("data-spans", &spans.join(","));
            let guides: Vec<String> = s
                .guides
                .iter()
                .map(|(y, _, n)| format!("{n}:{y}"))
                .collect();
            let _ = c.set_attribute("data-guides", &guides.join(","));
            if let Some(at) = drawn_tick {
                let _ = c.set_attribute("data-last-ts", &at.to_string());
            }
        }
    });
    // The server render draws nothing; the stamp is for the browser's draws.
    #[cfg(not(feature = "hydrate"))]
    let _ = stamp;
    let width = move || {
        canvas
            .get_untracked()
            .map(|c| c.client_width() as f64)
            .unwrap_or(800.0)
    };
    let range = move || ts.with_untracked(|t| visible(t, view.get_untracked()));
    let full = move || ts.with_untracked(|t| visible(t, None));
    let on_move = move |ev: leptos::ev::MouseEvent| {
        let Some(r) = range() else { return };
        let x = ev.offset_x() as f64;
        if let Some((x0, r0)) = drag.get_value() {
            // Drag pans: move the view by the pointer's travel in time.
            let dt = ((x0 - x) / (width() - MARGIN * 2.0 - Y_LABELS).max(1.0)
                * (r0.1 - r0.0) as f64) as i64;
            if let Some(f) = full() {
                let span = r0.1 - r0.0;
                let a = (r0.0 + dt).clamp(f.0, (f.1 - span).max(f.0));
                view.set(Some((a, a + span)));
            }
            return;
        }
        hover.set(Some(time_at(x, width(), r)));
    };
    let on_wheel = move |ev: leptos::ev::WheelEvent| {
        ev.prevent_default();
        let (Some(r), Some(f)) = (range(), full()) else {
            return;
        };
        let at = time_at(ev.offset_x() as f64, width(), r);
        let factor = if ev.delta_y() < 0.0 { 0.8 } else { 1.25 };
        let z = zoom(r, at, factor, f);
        view.set(if z == f { None } else { Some(z) });
    };
    let on_down = move |ev: leptos::ev::MouseEvent| {
        if let Some(r) = range() {
            drag.set_value(Some((ev.offset_x() as f64, r)));
        }
    };
    let on_up = move |_| drag.set_value(None);
    view! {
        <figure class="chart" title=help>
            <figcaption>
                <span class="sym">{move || title.get()}</span>
                <span class="hover-values" data-testid=format!("{testid}-hover")>
                    {move || {
                        let t = ts.get();
                        let s = spec.get();
                        hover
                            .get()
                            .and_then(|h| nearest(&t, h))
                            .map(|i| {
                                let mut parts = vec![super::format::hms(t[i])];
                                for l in &s.lines {
                                    let v = l.values.get(i).copied().flatten();
                                    parts.push(format!("{} {}", l.name, v.map(|v| format!("{v:.*}", s.decimals)).unwrap_or_else(|| "–".into())));
                                }
                                parts.join("  ")
                            })
                            .unwrap_or_default()
                    }}
                </span>
            </figcaption>
            <canvas
                node_ref=canvas
                data-testid=testid.clone()
                aria-label=move || format!("{} chart", title.get())
                on:mousemove=on_move
                on:mouseleave=move |_| {
                    hover.set(None);
                    drag.set_value(None);
                }
                on:wheel=on_wheel
                on:mousedown=on_down
                on:mouseup=on_up
                on:dblclick=move |_| view.set(None)
            ></canvas>
        </figure>
    }
}

#[cfg(feature = "hydrate")]
fn js_sys_now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

#[cfg(feature = "hydrate")]
mod draw {
    use super::{drawable, nearest, visible, ChartSpec, MarkKind, MARGIN, X_LABELS, Y_LABELS};
    use crate::app::format;
    use plotters::prelude::*;
    use plotters_canvas::CanvasBackend;
    use web_sys::HtmlCanvasElement;

    fn hex(c: &str) -> RGBColor {
        let v = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap_or(0xffffff);
        RGBColor((v >> 16) as u8, (v >> 8) as u8, v as u8)
    }

    fn theme() -> (RGBColor, RGBColor, RGBColor) {
        let light = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .map(|e| e.get_attribute("data-theme").as_deref() == Some("light"))
            .unwrap_or(false);
        if light {
            (hex("#ffffff"), hex("#e3e6ec"), hex("#4a5366"))
        } else {
            (hex("#12161f"), hex("#262c3a"), hex("#a8b3c7"))
        }
    }

    pub fn chart(
        canvas: &HtmlCanvasElement,
        ts: &[i64],
        spec: &ChartSpec,
        view: Option<(i64, i64)>,
        hover: Option<i64>,
    ) -> Result<(), String> {
        let (bg, grid, fg) = theme();
        let dpr = web_sys::window()
            .map(|w| w.device_pixel_ratio())
            .unwrap_or(1.0)
            .max(1.0);
        let (cw, ch) = (
            canvas.client_width().max(200) as f64,
            canvas.client_height().max(100) as f64,
        );
        let (w, h) = ((cw * dpr) as u32, (ch * dpr) as u32);
        if canvas.width() != w || canvas.height() != h {
            canvas.set_width(w);
            canvas.set_height(h);
        }
        let backend = CanvasBackend::with_canvas_object(canvas.clone()).ok_or("no 2d context")?;
        let root = backend.into_drawing_area();
        root.fill(&bg).map_err(|e| e.to_string())?;
        let font = (11.0 * dpr) as u32;
        let Some((x0, x1)) = visible(ts, view) else {
            root.draw(&Text::new(
                "waiting for data…",
                ((20.0 * dpr) as i32, (30.0 * dpr) as i32),
                ("sans-serif", font).into_font().color(&fg),
            ))
            .map_err(|e| e.to_string())?;
            return root.present().map_err(|e| e.to_string());
        };
        let lo_i = ts.partition_point(|t| *t < x0);
        let hi_i = ts.partition_point(|t| *t <= x1);
        let (mut lo, mut hi) = (f64::MAX, f64::MIN);
        for l in &spec.lines {
            for v in l.values[lo_i.min(l.values.len())..hi_i.min(l.values.len())]
                .iter()
                .flatten()
            {
                if v.is_finite() {
                    lo = lo.min(*v);
                    hi = hi.max(*v);
                }
            }
        }
        for y in spec
            .hlines
            .iter()
            .map(|h| h.0)
            .chain(spec.guides.iter().map(|g| g.0))
        {
            lo = lo.min(y);
            hi = hi.max(y);
        }
        if lo > hi {
            lo = -1.0;
            hi = 1.0;
        }
        let pad = ((hi - lo) * 0.08).max(hi.abs().max(1e-9) * 1e-6);
        let (lo, hi) = (lo - pad, hi + pad);
        let mut chart = ChartBuilder::on(&root)
            .margin((MARGIN * dpr) as u32)
            .x_label_area_size((X_LABELS * dpr) as u32)
            .y_label_area_size((Y_LABELS * dpr) as u32)
            .build_cartesian_2d(x0..x1, lo..hi)
            .map_err(|e| e.to_string())?;
        let dec = spec.decimals;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&|x| format::hms(*x))
            .y_label_formatter(&|y| format!("{y:.dec$}"))
            .label_style(("sans-serif", font).into_font().color(&fg))
            .axis_style(grid)
            .bold_line_style(grid)
            .light_line_style(bg)
            .draw()
            .map_err(|e| e.to_string())?;
        for (a, b, c) in &spec.zones {
            let (a, b) = (a.clamp(lo, hi), b.clamp(lo, hi));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, a), (x1, b)],
                    hex(c).mix(0.12).filled(),
                )))
                .map_err(|e| e.to_string())?;
        }
        for (a, b, c) in &spec.spans {
            let (a, b) = ((*a).clamp(x0, x1), (*b).clamp(x0, x1));
            if a < b {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(a, lo), (b, hi)],
                        hex(c).mix(0.16).filled(),
                    )))
                    .map_err(|e| e.to_string())?;
            }
        }
        // Guides as 40 dashes across the plot.
        for (y, c, _) in &spec.guides {
            let step = (x1 - x0) as f64 / 80.0;
            for i in (0..80).step_by(2) {
                let a = x0 + (step * i as f64) as i64;
                let b = x0 + (step * (i + 1) as f64) as i64;
                chart
                    .draw_series(LineSeries::new(
                        [(a, *y), (b, *y)],
                        hex(c).stroke_width(dpr.round() as u32),
                    ))
                    .map_err(|e| e.to_string())?;
            }
        }
        for (y, c) in &spec.hlines {
            chart
                .draw_series(LineSeries::new(
                    [(x0, *y), (x1, *y)],
                    hex(c).stroke_width(dpr.round() as u32),
                ))
                .map_err(|e| e.to_string())?;
        }
        // One column per device pixel of the plot area.
        let columns = ((cw - MARGIN * 2.0 - Y_LABELS) * dpr).max(1.0) as usize;
        for l in &spec.lines {
            let style = hex(l.color).stroke_width((l.width * dpr).round().max(1.0) as u32);
            let end = hi_i.min(l.values.len()).min(ts.len());
            let start = lo_i.saturating_sub(1).min(end);
            for seg in drawable(&ts[start..end], &l.values[start..end], (x0, x1), columns) {
                if seg.len() > 1 {
                    chart
                        .draw_series(LineSeries::new(seg, style))
                        .map_err(|e| e.to_string())?;
                } else if let Some(p) = seg.first() {
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            *p,
                            (2.0 * dpr) as i32,
                            style.filled(),
                        )))
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        let size = (5.0 * dpr) as i32;
        for m in spec.marks.iter().filter(|m| m.ts >= x0 && m.ts <= x1) {
            let at = (m.ts, m.value.clamp(lo, hi));
            let r = match m.kind {
                MarkKind::Long => chart.draw_series(std::iter::once(TriangleMarker::new(
                    at,
                    size,
                    hex("#3fb950").filled(),
                ))),
                MarkKind::Short => chart.draw_series(std::iter::once(TriangleMarker::new(
                    at,
                    size,
                    hex("#f85149").filled(),
                ))),
                MarkKind::Exit => chart.draw_series(std::iter::once(Cross::new(
                    at,
                    size,
                    fg.stroke_width(dpr.round().max(1.0) as u32),
                ))),
            };
            r.map_err(|e| e.to_string())?;
        }
        if let Some(i) = hover.and_then(|t| nearest(ts, t)) {
            let t = ts[i];
            if t >= x0 && t <= x1 {
                chart
                    .draw_series(LineSeries::new(
                        [(t, lo), (t, hi)],
                        fg.mix(0.6).stroke_width(dpr.round() as u32),
                    ))
                    .map_err(|e| e.to_string())?;
                for l in &spec.lines {
                    if let Some(v) = l.values.get(i).copied().flatten() {
                        chart
                            .draw_series(std::iter::once(Circle::new(
                                (t, v),
                                (3.0 * dpr) as i32,
                                hex(l.color).filled(),
                            )))
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
        }
        root.present().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_maps_to_time_inside_the_plot_area() {
        let r = (1000, 2000);
        assert_eq!(time_at(0.0, 800.0, r), 1000);
        assert_eq!(time_at(800.0, 800.0, r), 2000);
        let mid = MARGIN + Y_LABELS + (800.0 - MARGIN - (MARGIN + Y_LABELS)) / 2.0;
        assert_eq!(time_at(mid, 800.0, r), 1500);
    }

    #[test]
    fn nearest_index_by_time() {
        let ts = [0, 10, 20];
        assert_eq!(nearest(&ts, 14), Some(1));
        assert_eq!(nearest(&ts, 16), Some(2));
        assert_eq!(nearest(&ts, -5), Some(0));
        assert_eq!(nearest(&ts, 99), Some(2));
        assert_eq!(nearest(&[], 1), None);
    }

    #[test]
    fn zoom_keeps_the_cursor_time_in_place_and_stays_in_range() {
        let z = zoom((0, 1000), 500, 0.5, (0, 1000));
        assert_eq!(z, (250, 750));
        assert_eq!(zoom((0, 1000), 0, 4.0, (0, 1000)), (0, 1000));
    }

    #[test]
    fn drawing_keeps_every_column_extreme_and_the_gaps() {
        // 100,000 points on 500 columns: at most four per column survive.
        let n = 100_000;
        let ts: Vec<i64> = (0..n).collect();
        let mut v: Vec<Option<f64>> = (0..n).map(|i| Some(((i as f64) / 300.0).sin())).collect();
        v[40_000] = Some(9.0); // a one-bar spike
        v[70_000] = None; // a gap
        let segs = drawable(&ts, &v, (0, n - 1), 500);
        assert_eq!(segs.len(), 2, "the gap splits the line");
        let pts: Vec<(i64, f64)> = segs.concat();
        assert!(pts.len() <= 4 * 500 + 8, "{} points", pts.len());
        assert!(pts.contains(&(40_000, 9.0)), "the spike is drawn");
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0), "time order kept");
        // Every column's extremes are kept exactly.
        for c in [0usize, 123, 499] {
            let (a, b) = (c * n as usize / 500, (c + 1) * n as usize / 500);
            let col: Vec<f64> = v[a..b].iter().flatten().copied().collect();
            let max = col.iter().copied().fold(f64::MIN, f64::max);
            assert!(pts
                .iter()
                .any(|p| p.1 == max && (p.0 as usize) >= a && (p.0 as usize) < b));
        }
        // Few points: all of them, unchanged.
        let few = drawable(&ts[..50], &v[..50], (0, 49), 500);
        assert_eq!(few.concat().len(), 50);
    }

    #[test]
    fn visible_clamps_the_view_to_the_data() {
        assert_eq!(visible(&[10, 20, 30], Some((0, 25))), Some((10, 25)));
        assert_eq!(visible(&[10, 20, 30], None), Some((10, 30)));
        assert_eq!(visible(&[], None), None);
    }
}
