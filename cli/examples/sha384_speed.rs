//! One core's SHA-384 time over N MiB with the backend `esdk` uses (aws-lc), for the
//! benchmark's ceiling of the signed suites: both tools hash the whole message on one core.
//!   cargo run --release -p esdk-cli --example sha384_speed -- MIB
//! Prints the best of three runs in seconds.

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1024);
    let block = vec![0x5au8; 64 * 1024];
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA384);
        for _ in 0..mib * 16 {
            ctx.update(&block);
        }
        std::hint::black_box(ctx.finish());
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{best:.3}");
}
