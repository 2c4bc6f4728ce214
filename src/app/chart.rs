//! Price charts: plotters drawing on a canvas, in the browser only.
//!
//! The canvas backing store is sized to CSS pixels times devicePixelRatio so
//! lines and text stay crisp on high-DPI screens.

use crate::domain::Bar;
use leptos::prelude::*;

#[component]
pub fn PriceChart(title: String, bars: Signal<Vec<Bar>>, color: &'static str) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let last = move || {
        bars.with(|b| {
            b.last()
                .map(|b| super::format::price(b.close))
                .unwrap_or_else(|| "–".into())
        })
    };
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let data = bars.get();
        if let Some(c) = canvas.get() {
            if let Err(e) = draw::price(&c, &data, color) {
                leptos::logging::warn!("chart draw failed: {e}");
            }
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = color;
    view! {
        <figure class="chart">
            <figcaption>
                <span class="sym">{title.clone()}</span>
                <span class="last" data-testid=format!("last-{title}")>{last}</span>
            </figcaption>
            <canvas node_ref=canvas data-testid="price-chart" aria-label=format!("{title} price chart")></canvas>
        </figure>
    }
}

#[cfg(feature = "hydrate")]
mod draw {
    use crate::app::format;
    use crate::domain::Bar;
    use plotters::prelude::*;
    use plotters_canvas::CanvasBackend;
    use web_sys::HtmlCanvasElement;

    const BG: RGBColor = RGBColor(0x12, 0x16, 0x1f);
    const GRID: RGBColor = RGBColor(0x26, 0x2c, 0x3a);
    const FG: RGBColor = RGBColor(0xa8, 0xb3, 0xc7);

    fn hex(c: &str) -> RGBColor {
        let v = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap_or(0xffffff);
        RGBColor((v >> 16) as u8, (v >> 8) as u8, v as u8)
    }

    pub fn price(canvas: &HtmlCanvasElement, bars: &[Bar], color: &str) -> Result<(), String> {
        let dpr = web_sys::window()
            .map(|w| w.device_pixel_ratio())
            .unwrap_or(1.0)
            .max(1.0);
        let (cw, ch) = (
            canvas.client_width().max(300) as f64,
            canvas.client_height().max(150) as f64,
        );
        canvas.set_width((cw * dpr) as u32);
        canvas.set_height((ch * dpr) as u32);
        let backend = CanvasBackend::with_canvas_object(canvas.clone()).ok_or("no 2d context")?;
        let root = backend.into_drawing_area();
        root.fill(&BG).map_err(|e| e.to_string())?;
        let font = (12.0 * dpr) as u32;
        if bars.is_empty() {
            root.draw(&Text::new(
                "waiting for trades…",
                ((20.0 * dpr) as i32, (30.0 * dpr) as i32),
                ("sans-serif", font).into_font().color(&FG),
            ))
            .map_err(|e| e.to_string())?;
            return Ok(());
        }
        let x0 = bars[0].ts;
        let x1 = bars[bars.len() - 1].ts.max(x0 + 1);
        let (mut lo, mut hi) = bars.iter().fold((f64::MAX, f64::MIN), |(l, h), b| {
            (l.min(b.close), h.max(b.close))
        });
        let pad = ((hi - lo) * 0.08).max(hi.abs() * 1e-5);
        lo -= pad;
        hi += pad;
        let mut chart = ChartBuilder::on(&root)
            .margin((8.0 * dpr) as u32)
            .x_label_area_size((22.0 * dpr) as u32)
            .y_label_area_size((64.0 * dpr) as u32)
            .build_cartesian_2d(x0..x1, lo..hi)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&|x| format::hms(*x))
            .y_label_formatter(&|y| format::price(*y))
            .label_style(("sans-serif", font).into_font().color(&FG))
            .axis_style(GRID)
            .bold_line_style(GRID)
            .light_line_style(BG)
            .draw()
            .map_err(|e| e.to_string())?;
        let line = hex(color);
        chart
            .draw_series(LineSeries::new(
                bars.iter().map(|b| (b.ts, b.close)),
                line.stroke_width((1.5 * dpr).round() as u32),
            ))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
        Ok(())
    }
}
