//! VADER throughput in posts per second, on the differential-test corpus
//! (2,249 short posts: reviews, tweets, emoji, odd Unicode).
//!
//! Run: `cargo bench -p allele-listen --bench sentiment`
//! Compare with Python: `bench/sentiment_vs_python.sh`

use allele_listen::polarity_scores;
use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};

fn main() {
    divan::main();
}

const CORPUS: &str = include_str!("../tests/data/vader_corpus.txt");

fn posts() -> Vec<&'static str> {
    CORPUS
        .strip_suffix('\n')
        .unwrap_or(CORPUS)
        .split('\n')
        .collect()
}

/// Every post of the corpus once per iteration.
#[divan::bench(sample_count = 100)]
fn corpus(bencher: Bencher) {
    let posts = posts();
    bencher.counter(ItemsCount::new(posts.len())).bench(|| {
        for post in &posts {
            divan::black_box(polarity_scores(divan::black_box(post)));
        }
    });
}

/// One long text: the corpus glued into a single 110 KB string.
#[divan::bench(sample_count = 50)]
fn one_long_text(bencher: Bencher) {
    let text = posts().join(" ");
    bencher
        .counter(BytesCount::new(text.len()))
        .bench(|| polarity_scores(divan::black_box(&text)));
}
