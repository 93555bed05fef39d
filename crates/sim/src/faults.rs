//! Every fault the simulated network can inject, each with a knob, and the
//! named profiles that set them all.
//!
//! Rates "per second" are per connection-second or node-second of virtual
//! time (per world-second for partitions); probabilities are per opportunity
//! (a connect, a segment).

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// One-way latency of a link between two nodes, drawn once per pair.
    pub latency_min_ms: f64,
    pub latency_max_ms: f64,
    /// Bytes per second of a link, drawn once per pair.
    pub bandwidth_min_bps: f64,
    pub bandwidth_max_bps: f64,
    /// Writes are cut into segments of random size up to this.
    pub max_segment_bytes: usize,
    /// A connect is refused (RST to the SYN).
    pub connect_refuse_p: f64,
    /// A connect is never answered (it times out).
    pub connect_hang_p: f64,
    /// A connection is reset (RST both ways).
    pub reset_per_second_p: f64,
    /// One side of a connection closes it (FIN).
    pub fin_per_second_p: f64,
    /// One side of a connection freezes: it neither sends nor receives again,
    /// and its peer is not told (a host that vanished, a NAT that forgot).
    pub half_open_per_second_p: f64,
    /// A bit of a segment is flipped in flight (checksums must catch it).
    pub bit_flip_p: f64,
    /// The world splits in two; a share of partitions let traffic through one way.
    pub partition_per_second_p: f64,
    pub partition_min_ms: f64,
    pub partition_max_ms: f64,
    pub one_way_p: f64,
    /// A node's traffic is held up, then delivered in order.
    pub clog_per_second_p: f64,
    pub clog_min_ms: f64,
    pub clog_max_ms: f64,
    /// A node crashes (connections vanish without a FIN), then restarts empty.
    pub crash_per_second_p: f64,
    pub restart_min_ms: f64,
    pub restart_max_ms: f64,
    /// Largest clock drift a node may be given, parts per million either way.
    pub clock_drift_max_ppm: f64,
}

/// The longest latency, partition, clog or restart delay a knob may ask for (about 11 days).
pub const MAX_DURATION_MS: f64 = 1e9;

/// The named profiles.
pub const PROFILES: [&str; 3] = ["none", "default", "harsh"];

impl Faults {
    /// A quiet LAN: latency and bandwidth, no faults.
    pub fn none() -> Self {
        Self {
            latency_min_ms: 0.5,
            latency_max_ms: 2.0,
            bandwidth_min_bps: 100e6,
            bandwidth_max_bps: 1e9,
            max_segment_bytes: 64 * 1024,
            connect_refuse_p: 0.0,
            connect_hang_p: 0.0,
            reset_per_second_p: 0.0,
            fin_per_second_p: 0.0,
            half_open_per_second_p: 0.0,
            bit_flip_p: 0.0,
            partition_per_second_p: 0.0,
            partition_min_ms: 0.0,
            partition_max_ms: 0.0,
            one_way_p: 0.0,
            clog_per_second_p: 0.0,
            clog_min_ms: 0.0,
            clog_max_ms: 0.0,
            crash_per_second_p: 0.0,
            restart_min_ms: 0.0,
            restart_max_ms: 0.0,
            clock_drift_max_ppm: 0.0,
        }
    }

    /// The internet on a bad day: every fault, rarely.
    pub fn default_profile() -> Self {
        Self {
            latency_min_ms: 1.0,
            latency_max_ms: 80.0,
            bandwidth_min_bps: 1e6,
            bandwidth_max_bps: 100e6,
            max_segment_bytes: 16 * 1024,
            connect_refuse_p: 0.02,
            connect_hang_p: 0.02,
            reset_per_second_p: 0.001,
            fin_per_second_p: 0.001,
            half_open_per_second_p: 0.0005,
            bit_flip_p: 0.0005,
            partition_per_second_p: 0.005,
            partition_min_ms: 1_000.0,
            partition_max_ms: 20_000.0,
            one_way_p: 0.3,
            clog_per_second_p: 0.002,
            clog_min_ms: 100.0,
            clog_max_ms: 5_000.0,
            crash_per_second_p: 0.0005,
            restart_min_ms: 1_000.0,
            restart_max_ms: 10_000.0,
            clock_drift_max_ppm: 200.0,
        }
    }

    /// Everything ten times as often, slower links and tiny segments.
    pub fn harsh() -> Self {
        let d = Self::default_profile();
        Self {
            latency_max_ms: 400.0,
            bandwidth_min_bps: 100e3,
            max_segment_bytes: 1460,
            connect_refuse_p: 0.1,
            connect_hang_p: 0.1,
            reset_per_second_p: d.reset_per_second_p * 10.0,
            fin_per_second_p: d.fin_per_second_p * 10.0,
            half_open_per_second_p: d.half_open_per_second_p * 10.0,
            bit_flip_p: d.bit_flip_p * 10.0,
            partition_per_second_p: d.partition_per_second_p * 10.0,
            clog_per_second_p: d.clog_per_second_p * 10.0,
            crash_per_second_p: d.crash_per_second_p * 10.0,
            clock_drift_max_ppm: 1_000.0,
            ..d
        }
    }

    pub fn profile(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Self::none()),
            "default" => Some(Self::default_profile()),
            "harsh" => Some(Self::harsh()),
            _ => None,
        }
    }

    /// Checks that every knob makes sense, naming the first that does not.
    pub fn validate(&self) -> Result<(), String> {
        let probabilities = [
            ("connectRefuseP", self.connect_refuse_p),
            ("connectHangP", self.connect_hang_p),
            ("bitFlipP", self.bit_flip_p),
            ("oneWayP", self.one_way_p),
        ];
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} must be between 0 and 1, got {p}"));
            }
        }
        let non_negative = [
            ("latencyMinMs", self.latency_min_ms),
            ("latencyMaxMs", self.latency_max_ms),
            ("resetPerSecondP", self.reset_per_second_p),
            ("finPerSecondP", self.fin_per_second_p),
            ("halfOpenPerSecondP", self.half_open_per_second_p),
            ("partitionPerSecondP", self.partition_per_second_p),
            ("partitionMinMs", self.partition_min_ms),
            ("partitionMaxMs", self.partition_max_ms),
            ("clogPerSecondP", self.clog_per_second_p),
            ("clogMinMs", self.clog_min_ms),
            ("clogMaxMs", self.clog_max_ms),
            ("crashPerSecondP", self.crash_per_second_p),
            ("restartMinMs", self.restart_min_ms),
            ("restartMaxMs", self.restart_max_ms),
            ("clockDriftMaxPpm", self.clock_drift_max_ppm),
        ];
        for (name, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be a finite number >= 0, got {v}"));
            }
            // Durations become microseconds in u64 arithmetic: keep them far from overflow.
            if name.ends_with("Ms") && v > MAX_DURATION_MS {
                return Err(format!(
                    "{name} must be at most {MAX_DURATION_MS} ms, got {v}"
                ));
            }
        }
        for (name, v) in [
            ("bandwidthMinBps", self.bandwidth_min_bps),
            ("bandwidthMaxBps", self.bandwidth_max_bps),
        ] {
            if !(v.is_finite() && v >= 1.0) {
                return Err(format!("{name} must be at least 1 byte/s, got {v}"));
            }
        }
        if self.max_segment_bytes == 0 {
            return Err("maxSegmentBytes must be at least 1".into());
        }
        if self.clock_drift_max_ppm >= 100_000.0 {
            return Err("clockDriftMaxPpm must be below 100000".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_is_valid_and_named() {
        for name in PROFILES {
            Faults::profile(name).unwrap().validate().unwrap();
        }
        assert!(Faults::profile("wild").is_none());
    }

    #[test]
    fn nonsense_is_refused_by_name() {
        let mut f = Faults::none();
        f.bit_flip_p = 2.0;
        assert!(f.validate().unwrap_err().contains("bitFlipP"));
    }
}
