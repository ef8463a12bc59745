//! The `ladderfeed` command line.

fn main() {
    println!("ladderfeed {}", env!("CARGO_PKG_VERSION"));
}
