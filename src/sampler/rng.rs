//! Stage 4a: the sampler's random numbers, reproducible from a seed.

// ANCHOR: rng
/// PCG32 (O'Neill 2014, PCG-XSH-RR 64/32): a tiny, fast generator that is written out here so
/// that a seed gives the same tokens forever, whatever version of a random-number crate is used.
#[derive(Clone, Debug)]
pub struct Pcg32 {
    state: u64,
    inc: u64,
}

impl Pcg32 {
    const MUL: u64 = 6364136223846793005;

    /// Seed as in the reference `pcg32_srandom_r(seed, stream = 54)`.
    pub fn new(seed: u64) -> Pcg32 {
        let mut rng = Pcg32 {
            state: 0,
            inc: (54u64 << 1) | 1,
        };
        rng.next_u32();
        rng.state = rng.state.wrapping_add(seed);
        rng.next_u32();
        rng
    }

    /// state ← state·MUL + inc; output = rotr32(((s ≫ 18) ⊕ s) ≫ 27, s ≫ 59).
    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(Self::MUL).wrapping_add(self.inc);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        xorshifted.rotate_right((old >> 59) as u32)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        let hi = (self.next_u32() >> 5) as u64; // 27 bits
        let lo = (self.next_u32() >> 6) as u64; // 26 bits
        ((hi << 26) | lo) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}
// ANCHOR_END: rng
