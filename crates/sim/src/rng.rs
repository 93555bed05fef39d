//! The simulation's randomness: xoshiro256** seeded through SplitMix64, in
//! named streams so that drawing more in one place (a new fault kind, an
//! extra node) does not shift what every other place draws.

use std::collections::HashMap;

/// xoshiro256** (Blackman and Vigna): small, fast and statistically sound for
/// simulation; the exact generator matters because runs must replay bit for bit.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut state = seed;
        let s = [
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
        ];
        Self { s }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); 0 when n is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-shift: unbiased enough for a simulation and branch-free.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [lo, hi] (hi below lo counts as lo).
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo).saturating_add(1))
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// An exponentially distributed wait with the given rate per second, in
    /// microseconds (the time to a Poisson process's next arrival).
    pub fn exp_wait_us(&mut self, rate_per_s: f64) -> u64 {
        let u = 1.0 - self.unit(); // in (0, 1]
        let secs = -u.ln() / rate_per_s;
        (secs * 1e6).min(1e15) as u64 + 1
    }
}

/// Generators by name, each seeded from the world's seed and its name.
#[derive(Debug)]
pub struct Streams {
    seed: u64,
    /// By name. Hashed, not ordered: nothing iterates it, and every segment
    /// looks up two streams among hundreds of per-node ones, where a tree
    /// compared strings all the way down.
    streams: HashMap<String, Rng>,
}

impl Streams {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            streams: HashMap::new(),
        }
    }

    pub fn get(&mut self, name: &str) -> &mut Rng {
        if !self.streams.contains_key(name) {
            // FNV-1a of the name, mixed with the seed.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in name.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            let rng = Rng::new(self.seed ^ h.rotate_left(17));
            self.streams.insert(name.to_owned(), rng);
        }
        self.streams.get_mut(name).expect("inserted above")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_draws() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn streams_do_not_disturb_each_other() {
        let mut s1 = Streams::new(1);
        let first = s1.get("faults").next_u64();
        let mut s2 = Streams::new(1);
        for _ in 0..10 {
            s2.get("links").next_u64();
        }
        assert_eq!(s2.get("faults").next_u64(), first);
    }

    #[test]
    fn draws_stay_in_range() {
        let mut r = Rng::new(3);
        for _ in 0..1000 {
            assert!(r.below(10) < 10);
            let v = r.between(5, 7);
            assert!((5..=7).contains(&v));
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(r.below(0), 0);
        assert!(!r.chance(0.0));
    }
}
