//! What share of the cores *other* programs used while a measurement ran, for the lessons that
//! time themselves (06b's speed table, 18's training run) and print it beside their numbers.

/// Clock ticks from Linux's /proc: the cores' busy and total time since boot (all cores
/// summed, from /proc/stat's `cpu` line), and this process's own CPU time (all its threads,
/// /proc/self/stat fields 14–15). Between two readings, busy − own is what *other* programs
/// ran: the load average cannot say that, because this program's own threads raise it.
pub struct CpuTicks {
    busy: u64,
    total: u64,
    own: u64,
}

pub fn cpu_ticks() -> Option<CpuTicks> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    // cpu  user nice system idle iowait irq softirq steal ...
    let f: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    // after the command name in parentheses: state is field 3, utime 14, stime 15
    let rest: Vec<u64> = own[own.rfind(')')? + 2..]
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let idle = f[3] + f[4];
    let busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
    Some(CpuTicks {
        busy,
        total: busy + idle,
        own: rest[0] + rest[1],
    })
}

/// The share of all cores (%) that other programs used between two readings.
pub fn others_percent(a: &CpuTicks, b: &CpuTicks) -> f64 {
    let others = (b.busy - a.busy).saturating_sub(b.own - a.own);
    100.0 * others as f64 / (b.total - a.total).max(1) as f64
}
