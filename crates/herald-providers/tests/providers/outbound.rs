//! The outbound policy end to end: a listener on 127.0.0.2 receives nothing while only 127.0.0.1
//! is allowed, whatever spelling, name or redirect leads there; allowed, it receives the request
//! (so the refusals are the policy's doing, not a broken setup).

use std::time::Duration;

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use herald_providers::{OutboundConfig, Providers, ProvidersConfig};

use crate::fake::{Fake, Reply, Silent};
use crate::{providers, providers_with, send_chat, Msg};

const REFUSED: &str = "destination refused by the outbound policy: ";

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn an_address_outside_the_allow_list_receives_nothing_in_any_spelling_or_name() {
    let mut target = Silent::start_on(ip("127.0.0.2")).await;
    let port = target.addr.port();
    let p = providers_with(
        &["127.0.0.1"],
        &[
            ("sneaky.example", &["127.0.0.2"]),
            ("localhost", &["127.0.0.2"]),
        ],
    );
    let msg = Msg::text("hi");
    let by_address = format!(
        "{REFUSED}127.0.0.2 (loopback address); list it in HERALD_OUTBOUND_ALLOW to allow it"
    );
    for url in [
        format!("http://127.0.0.2:{port}/hook"),
        format!("http://2130706434:{port}/hook"),
        format!("http://0x7f000002:{port}/hook"),
        format!("http://0x7f.0.0.2:{port}/hook"),
        format!("http://127.2:{port}/hook"),
        // IPv4-mapped IPv6 reaches the same IPv4 socket.
        format!("http://[::ffff:127.0.0.2]:{port}/hook"),
        format!("http://[::ffff:7f00:2]:{port}/hook"),
    ] {
        let a = send_chat(&p, ProviderId::Slack, &url, None, &msg).await;
        assert_eq!(a.outcome, Outcome::Rejected, "{url}");
        let mapped = url.contains("::ffff:");
        if mapped {
            assert!(
                a.detail
                    .contains("(IPv4-mapped 127.0.0.2, loopback address)"),
                "{}",
                a.detail
            );
        } else {
            assert_eq!(a.detail, by_address, "{url}");
        }
        assert_eq!(a.http_status, None);
    }
    for name in ["sneaky.example", "localhost"] {
        let url = format!("http://{name}:{port}/hook");
        let a = send_chat(&p, ProviderId::Discord, &url, None, &msg).await;
        assert_eq!(a.outcome, Outcome::Rejected, "{url}");
        assert_eq!(
            a.detail,
            format!(
                "{REFUSED}{name} resolves to 127.0.0.2 (loopback address); \
                 list it in HERALD_OUTBOUND_ALLOW to allow it"
            )
        );
    }
    assert_eq!(target.connections_so_far().await, 0);
}

#[tokio::test]
async fn once_allowed_the_same_address_and_name_receive_the_request() {
    let fake = Fake::start_on(ip("127.0.0.2")).await;
    let p = providers_with(&["127.0.0.2/32"], &[("sneaky.example", &["127.0.0.2"])]);
    let msg = Msg::text("hi");
    let by_name = format!("http://sneaky.example:{}/by-name", fake.addr.port());
    let a = send_chat(&p, ProviderId::Slack, &by_name, None, &msg).await;
    assert_eq!(a.outcome, Outcome::Delivered, "{}", a.detail);
    let hex = format!("http://0x7f000002:{}/by-hex", fake.addr.port());
    let a = send_chat(&p, ProviderId::Slack, &hex, None, &msg).await;
    assert_eq!(a.outcome, Outcome::Delivered, "{}", a.detail);
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/by-name", "/by-hex"]);
}

#[tokio::test]
async fn a_redirect_is_never_followed_even_to_an_allowed_address() {
    let mut refused = Silent::start_on(ip("127.0.0.2")).await;
    let fake = Fake::start().await;
    let p = providers();
    let msg = Msg::text("hi");
    fake.reply(Reply::new(302, "").header(
        "location",
        format!("http://127.0.0.2:{}/", refused.addr.port()),
    ));
    fake.reply(Reply::new(307, "").header("location", fake.url("/elsewhere")));
    for _ in 0..2 {
        let a = send_chat(&p, ProviderId::Slack, &fake.url("/hook"), None, &msg).await;
        assert_eq!(a.outcome, Outcome::Rejected);
        assert!(
            a.detail.starts_with("redirect not followed (HTTP 30"),
            "{}",
            a.detail
        );
        assert!(!a.detail.contains("127.0.0.2") && !a.detail.contains("/elsewhere"));
    }
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/hook", "/hook"],
        "the fake saw only the original requests"
    );
    assert_eq!(refused.connections_so_far().await, 0);
}

#[tokio::test]
async fn a_name_with_one_refused_address_among_allowed_ones_is_refused() {
    let mut target = Silent::start_on(ip("127.0.0.2")).await;
    let p = providers_with(
        &["127.0.0.1"],
        &[("mixed.example", &["127.0.0.1", "127.0.0.2"])],
    );
    let url = format!("http://mixed.example:{}/", target.addr.port());
    let a = send_chat(&p, ProviderId::Mattermost, &url, None, &Msg::text("x")).await;
    assert_eq!(a.outcome, Outcome::Rejected);
    assert!(
        a.detail
            .contains("resolves to 127.0.0.2 (loopback address)"),
        "{}",
        a.detail
    );
    assert_eq!(target.connections_so_far().await, 0);
}

#[tokio::test]
async fn metadata_and_private_names_are_refused_naming_their_class() {
    let p = providers_with(
        &[],
        &[
            ("metadata.example", &["169.254.169.254"]),
            ("ula.example", &["fd00:ec2::254"]),
        ],
    );
    let a = send_chat(
        &p,
        ProviderId::Slack,
        "http://metadata.example/latest",
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(
        a.detail,
        format!("{REFUSED}metadata.example resolves to 169.254.169.254 (cloud metadata address); list it in HERALD_OUTBOUND_ALLOW to allow it")
    );
    let a = send_chat(
        &p,
        ProviderId::Slack,
        "http://ula.example/latest",
        None,
        &Msg::text("x"),
    )
    .await;
    assert!(
        a.detail.contains("fd00:ec2::254 (cloud metadata address)"),
        "{}",
        a.detail
    );
    let a = send_chat(
        &p,
        ProviderId::Slack,
        "http://[::ffff:10.0.0.1]/x",
        None,
        &Msg::text("x"),
    )
    .await;
    assert!(
        a.detail.contains("(IPv4-mapped 10.0.0.1, private address)"),
        "{}",
        a.detail
    );
}

#[tokio::test]
async fn a_closed_port_and_a_name_without_addresses_are_retried_without_the_url() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = providers_with(&["127.0.0.1"], &[("empty.example", &[])]);
    let url = format!("http://127.0.0.1:{port}/services/SECRET-PATH");
    let a = send_chat(&p, ProviderId::Slack, &url, None, &Msg::text("x")).await;
    assert_eq!(a.outcome, Outcome::Retry { after: None });
    assert!(
        a.detail
            .starts_with("could not connect: tcp connect error: "),
        "{}",
        a.detail
    );
    assert!(!a.detail.contains("SECRET-PATH"), "{}", a.detail);
    let a = send_chat(
        &p,
        ProviderId::Slack,
        "http://empty.example/SECRET-PATH",
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Retry { after: None });
    assert_eq!(
        a.detail,
        "could not connect: dns error: empty.example has no address"
    );
    assert!(!a.detail.contains("SECRET-PATH"), "{}", a.detail);
}

#[tokio::test]
async fn a_provider_that_never_answers_times_out_and_is_retried() {
    // Accepts and then holds the connection without a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (held_tx, mut held_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = held_tx.send(stream);
        }
    });
    let p = Providers::new(ProvidersConfig {
        outbound: OutboundConfig {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
            timeout: Duration::from_millis(300),
            ..OutboundConfig::default()
        },
        ..ProvidersConfig::default()
    })
    .unwrap();
    let a = send_chat(
        &p,
        ProviderId::Discord,
        &format!("http://{addr}/x"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Retry { after: None });
    assert!(a.detail.starts_with("timed out"), "{}", a.detail);
    assert!(held_rx.try_recv().is_ok(), "the request did connect");
}

#[tokio::test]
async fn only_the_capped_start_of_a_long_answer_is_read() {
    let fake = Fake::start().await;
    let p = Providers::new(ProvidersConfig {
        outbound: OutboundConfig {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
            max_response_bytes: 16,
            ..OutboundConfig::default()
        },
        ..ProvidersConfig::default()
    })
    .unwrap();
    // Only 16 bytes are read: the detail and the code show exactly those.
    fake.reply(Reply::new(
        400,
        format!("no_service{}", "x".repeat(1 << 20)),
    ));
    let a = send_chat(
        &p,
        ProviderId::Slack,
        &fake.url("/h"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Rejected);
    assert_eq!(a.detail, "Slack answered HTTP 400: no_servicexxxxxx");
    assert_eq!(a.provider_code.as_deref(), Some("no_servicexxxxxx"));
}

#[tokio::test]
async fn ipv6_loopback_is_refused_when_only_ipv4_loopback_is_allowed() {
    let mut target = Silent::start_on(ip("::1")).await;
    let p = providers_with(&["127.0.0.1"], &[("v6.example", &["::1"])]);
    for url in [
        format!("http://[::1]:{}/hook", target.addr.port()),
        format!("http://v6.example:{}/hook", target.addr.port()),
    ] {
        let a = send_chat(&p, ProviderId::Slack, &url, None, &Msg::text("x")).await;
        assert_eq!(a.outcome, Outcome::Rejected, "{url}");
        assert!(a.detail.contains("::1 (loopback address)"), "{}", a.detail);
    }
    assert_eq!(target.connections_so_far().await, 0);
}
