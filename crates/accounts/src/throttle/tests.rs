use super::*;
use std::net::Ipv4Addr;

const SEC: Duration = Duration::from_secs(1);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn throttle() -> AuthThrottle {
    // 2 s per failure, refuse after 3 failures, 60 s window.
    AuthThrottle::new(2 * SEC, 3, 60 * SEC)
}

#[test]
fn delay_grows_with_failures_and_is_capped() {
    let t = AuthThrottle::new(4 * SEC, 100, 600 * SEC);
    let t0 = Instant::now();
    let delays: Vec<u64> = (0..6)
        .map(|i| t.failed_at(t0 + i * SEC, ip(1), None).as_secs())
        .collect();
    assert_eq!(delays, [4, 8, 12, 15, 15, 15]);
}

#[test]
fn refuses_a_client_past_the_limit_until_the_window_ends() {
    let t = throttle();
    let t0 = Instant::now();
    for i in 0..3 {
        assert_eq!(
            t.check_at(t0 + i * SEC, ip(1), None),
            Verdict::Proceed,
            "attempt {i}"
        );
        t.failed_at(t0 + i * SEC, ip(1), None);
    }
    assert_eq!(
        t.check_at(t0 + 10 * SEC, ip(1), None),
        Verdict::Refuse {
            retry_after: 50 * SEC
        }
    );
    // Another client is not affected.
    assert_eq!(t.check_at(t0 + 10 * SEC, ip(2), None), Verdict::Proceed);
    // Still refused just before the window ends, free after it.
    assert!(matches!(
        t.check_at(t0 + 59 * SEC, ip(1), None),
        Verdict::Refuse { .. }
    ));
    assert_eq!(t.check_at(t0 + 60 * SEC, ip(1), None), Verdict::Proceed);
    // A failure after the window starts a new count.
    assert_eq!(t.failed_at(t0 + 61 * SEC, ip(1), None), 2 * SEC);
    assert_eq!(t.check_at(t0 + 61 * SEC, ip(1), None), Verdict::Proceed);
}

#[test]
fn refuses_a_user_attacked_from_many_addresses() {
    let t = throttle();
    let t0 = Instant::now();
    for i in 0..3u8 {
        t.failed_at(t0, ip(10 + i), Some("alice@example.org"));
    }
    // A fresh address, same user (any case): refused.
    assert!(matches!(
        t.check_at(t0, ip(99), Some("Alice@Example.org")),
        Verdict::Refuse { .. }
    ));
    // The same fresh address for another user: fine.
    assert_eq!(
        t.check_at(t0, ip(99), Some("bob@example.org")),
        Verdict::Proceed
    );
    // Without knowing the user yet (before AUTH data), the client is fine.
    assert_eq!(t.check_at(t0, ip(99), None), Verdict::Proceed);
}

#[test]
fn delay_counts_the_worse_of_client_and_user() {
    let t = AuthThrottle::new(SEC, 100, 600 * SEC);
    let t0 = Instant::now();
    for i in 0..4u8 {
        t.failed_at(t0, ip(i), Some("alice@example.org"));
    }
    assert_eq!(t.failed_at(t0, ip(50), Some("alice@example.org")), 5 * SEC);
    assert_eq!(t.failed_at(t0, ip(50), Some("bob@example.org")), 2 * SEC);
}

#[test]
fn success_clears_the_client_but_not_the_user() {
    let t = throttle();
    let t0 = Instant::now();
    t.failed_at(t0, ip(1), Some("alice@example.org"));
    t.failed_at(t0, ip(1), Some("alice@example.org"));
    t.succeeded(ip(1), Some("alice@example.org"));
    assert_eq!(
        t.failed_at(t0, ip(1), None),
        2 * SEC,
        "client count restarted"
    );
    assert_eq!(t.tracked(), (1, 1));
    assert_eq!(
        t.failed_at(t0, ip(2), Some("alice@example.org")),
        6 * SEC,
        "user count kept"
    );
}

#[test]
fn limit_zero_never_refuses() {
    let t = AuthThrottle::new(SEC, 0, 60 * SEC);
    let t0 = Instant::now();
    for _ in 0..50 {
        t.failed_at(t0, ip(1), Some("a@b"));
    }
    assert_eq!(t.check_at(t0, ip(1), Some("a@b")), Verdict::Proceed);
}

#[test]
fn memory_is_bounded() {
    let t = AuthThrottle::new(SEC, 3, 600 * SEC);
    let t0 = Instant::now();
    let total = u32::try_from(MAX_TRACKED).unwrap() + 500;
    for i in 0..total {
        let addr = IpAddr::V6(std::net::Ipv6Addr::from(u128::from(i)));
        t.failed_at(
            t0 + Duration::from_millis(u64::from(i)),
            addr,
            Some(&format!("u{i}@x")),
        );
    }
    let (clients, users) = t.tracked();
    assert!(
        clients <= MAX_TRACKED && users <= MAX_TRACKED,
        "{clients} {users}"
    );
    // The most recent are kept, the oldest went first.
    let newest = IpAddr::V6(std::net::Ipv6Addr::from(u128::from(total - 1)));
    let oldest = IpAddr::V6(std::net::Ipv6Addr::from(0u128));
    let later = t0 + Duration::from_millis(u64::from(total));
    assert_eq!(t.failed_at(later, newest, None), 2 * SEC);
    assert_eq!(t.failed_at(later, oldest, None), SEC);
}

#[test]
fn expired_entries_are_dropped_first() {
    let t = AuthThrottle::new(SEC, 3, 10 * SEC);
    let t0 = Instant::now();
    for i in 0..u32::try_from(MAX_TRACKED).unwrap() {
        let addr = IpAddr::V6(std::net::Ipv6Addr::from(u128::from(i)));
        t.failed_at(t0, addr, None);
    }
    assert_eq!(t.tracked().0, MAX_TRACKED);
    t.failed_at(t0 + 20 * SEC, ip(1), None);
    assert_eq!(t.tracked().0, 1, "all old entries had expired");
}

#[test]
fn is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<AuthThrottle>();
}

#[test]
fn refusal_is_reported_once_per_window() {
    let mut table: Table<IpAddr> = Table::default();
    let t0 = Instant::now();
    for _ in 0..3 {
        table.record(&ip(1), t0, 60 * SEC);
    }
    let first = table.refusal(&ip(1), t0, 3, 60 * SEC);
    let second = table.refusal(&ip(1), t0 + SEC, 3, 60 * SEC);
    assert_eq!(first, Some((60 * SEC, true)), "the first refusal logs");
    assert_eq!(second, Some((59 * SEC, false)), "later ones do not");
    // A new window, a new warning.
    for _ in 0..3 {
        table.record(&ip(1), t0 + 61 * SEC, 60 * SEC);
    }
    assert_eq!(
        table.refusal(&ip(1), t0 + 61 * SEC, 3, 60 * SEC),
        Some((60 * SEC, true))
    );
}
