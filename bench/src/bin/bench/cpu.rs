//! Envoy's CPU time around a run: user plus system time of the whole process (every thread:
//! the worker, the main thread, V8's), from `/proc/<pid>/stat`. Divided by the requests of the
//! run it is the CPU a request costs, a figure that other load on the machine disturbs less
//! than req/s (a set-up that waits for the CPU loses req/s, not CPU time).

/// A process's CPU time so far, in microseconds.
pub fn process_cpu_us(pid: u32) -> Result<f64, String> {
    let file = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let ticks = utime_plus_stime(&text).ok_or_else(|| format!("{file}: no utime and stime"))?;
    // The kernel counts in clock ticks (USER_HZ, `getconf CLK_TCK`), from the auxiliary vector.
    let per_second = rustix::param::clock_ticks_per_second().max(1);
    Ok(ticks as f64 * 1e6 / per_second as f64)
}

/// Fields 14 and 15 of `/proc/<pid>/stat` (proc(5)), summed. The second field, the command
/// name in parentheses, may hold spaces and parentheses itself: the fields are counted from the
/// last `)`, after which field 3 comes.
fn utime_plus_stime(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_past_a_name_with_spaces() {
        let stat = "4242 (envoy (main) x) S 1 4242 4242 0 -1 4194560 9731 0 0 0 1234 567 0 0 20 \
                    0 12 0 1806 2442727424 15000 18446744073709551615";
        assert_eq!(utime_plus_stime(stat), Some(1234 + 567));
        assert_eq!(utime_plus_stime("1 (x) S 1 2"), None);
    }

    #[test]
    fn reads_this_processs_own_stat() {
        let spent = process_cpu_us(std::process::id()).unwrap();
        assert!(spent >= 0.0);
    }
}
