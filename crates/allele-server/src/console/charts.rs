//! Server-rendered SVG for interval charts: each estimate as a dot on its
//! 95% interval, against a zero line. No JavaScript; the numbers are also in
//! the table the page prints next to the chart.

/// One bar of an interval chart, in SVG coordinates.
pub struct IntervalBar {
    pub label: String,
    pub y: String,
    pub text_y: String,
    pub x_lo: String,
    pub x_hi: String,
    pub x_estimate: String,
}

pub struct IntervalChart {
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub zero_x: String,
    pub axis_y: String,
    pub min_label: String,
    pub max_label: String,
    pub bars: Vec<IntervalBar>,
}

const WIDTH: f64 = 640.0;
const LEFT: f64 = 160.0;
const RIGHT: f64 = 20.0;
const ROW: f64 = 36.0;

fn coord(value: f64) -> String {
    format!("{value:.1}")
}

/// An interval chart of `(label, estimate, [lo, hi])`; None when nothing has
/// a finite interval to draw.
pub fn interval_chart(title: &str, items: &[(String, f64, [f64; 2])]) -> Option<IntervalChart> {
    let drawable: Vec<&(String, f64, [f64; 2])> = items
        .iter()
        .filter(|(_, estimate, [lo, hi])| estimate.is_finite() && lo.is_finite() && hi.is_finite())
        .collect();
    if drawable.is_empty() {
        return None;
    }
    let mut min = 0.0f64;
    let mut max = 0.0f64;
    for (_, _, [lo, hi]) in &drawable {
        min = min.min(*lo);
        max = max.max(*hi);
    }
    let pad = ((max - min) * 0.08).max(1e-9);
    let (min, max) = (min - pad, max + pad);
    let span = WIDTH - LEFT - RIGHT;
    let x = |value: f64| LEFT + (value - min) / (max - min) * span;
    let bars = drawable
        .iter()
        .enumerate()
        .map(|(index, (label, estimate, [lo, hi]))| {
            let y = 20.0 + ROW * index as f64;
            IntervalBar {
                label: label.clone(),
                y: coord(y),
                text_y: coord(y + 4.0),
                x_lo: coord(x(*lo)),
                x_hi: coord(x(*hi)),
                x_estimate: coord(x(*estimate)),
            }
        })
        .collect::<Vec<_>>();
    let height = 20.0 + ROW * bars.len() as f64 + 10.0;
    Some(IntervalChart {
        title: title.to_string(),
        width: WIDTH as u32,
        height: height as u32,
        zero_x: coord(x(0.0)),
        axis_y: coord(height - 4.0),
        min_label: format!("{min:.4}"),
        max_label: format!("{max:.4}"),
        bars,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_sits_between_an_interval_that_spans_it() {
        let chart = interval_chart("lift", &[("b".into(), 0.02, [-0.01, 0.05])]).expect("chart");
        let zero: f64 = chart.zero_x.parse().expect("number");
        let bar = chart.bars.first().expect("bar");
        let (lo, hi, estimate): (f64, f64, f64) = (
            bar.x_lo.parse().expect("lo"),
            bar.x_hi.parse().expect("hi"),
            bar.x_estimate.parse().expect("estimate"),
        );
        assert!(lo < zero && zero < estimate && estimate < hi);
        assert!(LEFT <= lo && hi <= WIDTH - RIGHT);
    }

    #[test]
    fn nothing_finite_draws_nothing() {
        assert!(interval_chart("lift", &[("b".into(), f64::NAN, [0.0, 1.0])]).is_none());
        assert!(interval_chart("lift", &[]).is_none());
    }
}
