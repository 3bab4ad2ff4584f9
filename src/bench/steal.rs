//! The share of CPU time the hypervisor gave to other guests ("steal") while a scenario ran.
//!
//! On a shared virtual machine the same binary's throughput moved by a factor of three within
//! minutes when steal was 35–41 %; a figure measured then is not comparable with one from a
//! quiet host. The bench records steal per scenario (Linux `/proc/stat`) and says when it was
//! high, so a table carries the reason it may not be compared.

/// Steal above this share of CPU time makes a scenario's throughput suspect.
pub const HIGH_PCT: f64 = 5.0;

/// Cumulative CPU time counters of the whole machine, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuTimes {
    steal: u64,
    total: u64,
}

/// The machine's counters now (`None` where `/proc/stat` is not there).
pub fn now() -> Option<CpuTimes> {
    parse(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The counters of `/proc/stat`'s first (`cpu`) line: user, nice, system, idle, iowait, irq,
/// softirq, steal. The guest columns are already counted in user and nice.
pub fn parse(stat: &str) -> Option<CpuTimes> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let steal = *fields.get(7)?;
    Some(CpuTimes {
        steal,
        total: fields.iter().sum(),
    })
}

/// Steal as a percentage of the CPU time between two readings.
pub fn between(before: Option<CpuTimes>, after: Option<CpuTimes>) -> Option<f64> {
    let (b, a) = (before?, after?);
    let total = a.total.checked_sub(b.total).filter(|t| *t > 0)?;
    let steal = a.steal.checked_sub(b.steal)?;
    Some(100.0 * steal as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_its_share_of_all_cpu_time_between_readings() {
        let before = parse("cpu  100 0 50 800 10 0 5 35 7 0\ncpu0 50 0 25 400 5 0 2 18 0 0\n");
        let after = parse("cpu  300 0 150 900 10 0 5 135 9 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n");
        assert_eq!(
            before,
            Some(CpuTimes {
                steal: 35,
                total: 1000
            })
        );
        // 100 of the 500 ticks that passed were stolen; the guest column is not added twice.
        assert_eq!(between(before, after), Some(20.0));
        assert_eq!(between(after, after), None, "no time passed");
        assert_eq!(between(None, after), None);
        assert_eq!(parse("intr 1 2 3\n"), None);
        assert_eq!(parse("cpu  1 2 x 4 5 6 7 8\n"), None);
        // Kernels older than steal accounting give fewer columns.
        assert_eq!(parse("cpu  1 2 3 4\n"), None);
    }
}
