//! Capped exponential backoff, for reconnecting and for retrying a message.

use std::time::Duration;

/// `base * 2^(attempt - 1)`, at most `cap`; attempt 0 and 1 both wait `base`.
pub(super) fn delay(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    base.saturating_mul(1u32 << doublings).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_per_attempt_up_to_the_cap() {
        let ms = Duration::from_millis;
        let waits: Vec<_> = (1..=6).map(|a| delay(ms(100), a, ms(1000))).collect();
        assert_eq!(
            waits,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        assert_eq!(delay(ms(100), 0, ms(1000)), ms(100));
        assert_eq!(delay(ms(100), u32::MAX, ms(1000)), ms(1000), "no overflow");
    }
}
