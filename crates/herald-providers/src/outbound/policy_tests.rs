//! The address classifier on every class, without connecting anywhere.

use super::*;
use AddressClass::*;

fn class_of(s: &str) -> Option<AddressClass> {
    classify(s.parse().expect("test address")).map(|(c, _)| c)
}

#[test]
fn every_refused_ipv4_class_is_named() {
    let cases = [
        ("0.0.0.0", Unspecified),
        ("0.1.2.3", ThisNetwork),
        ("10.0.0.1", Private),
        ("10.255.255.255", Private),
        ("100.64.0.1", SharedAddressSpace),
        ("100.127.255.254", SharedAddressSpace),
        ("100.100.100.200", CloudMetadata),
        ("127.0.0.1", Loopback),
        ("127.0.0.2", Loopback),
        ("127.255.255.255", Loopback),
        ("169.254.0.1", LinkLocal),
        ("169.254.169.254", CloudMetadata),
        ("172.16.0.1", Private),
        ("172.31.255.255", Private),
        ("192.0.0.8", Reserved),
        ("192.0.2.10", Documentation),
        ("192.88.99.1", Reserved),
        ("192.168.1.1", Private),
        ("198.18.0.1", Benchmarking),
        ("198.19.255.255", Benchmarking),
        ("198.51.100.7", Documentation),
        ("203.0.113.9", Documentation),
        ("224.0.0.1", Multicast),
        ("239.255.255.250", Multicast),
        ("240.0.0.1", Reserved),
        ("255.255.255.254", Reserved),
        ("255.255.255.255", Broadcast),
    ];
    for (addr, class) in cases {
        assert_eq!(class_of(addr), Some(class), "{addr}");
    }
}

#[test]
fn public_ipv4_addresses_and_the_edges_of_refused_ranges_pass() {
    for addr in [
        "1.1.1.1",
        "8.8.8.8",
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.0",
        "169.253.255.255",
        "169.255.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
    ] {
        assert_eq!(class_of(addr), None, "{addr}");
    }
}

#[test]
fn every_refused_ipv6_class_is_named() {
    let cases = [
        ("::", Unspecified),
        ("::1", Loopback),
        ("fd00:ec2::254", CloudMetadata),
        ("fc00::1", UniqueLocal),
        ("fd12:3456::1", UniqueLocal),
        ("fe80::1", LinkLocal),
        ("febf::1", LinkLocal),
        ("fec0::1", SiteLocal),
        ("ff02::1", Multicast),
        ("ff0e::101", Multicast),
        ("2001:db8::1", Documentation),
        ("3fff::1", Documentation),
        ("2001:2::1", Benchmarking),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Teredo),
        ("2001:10::1", Reserved),
        ("100::1", Reserved),
        ("64:ff9b:1::1", Reserved),
        ("4000::1", Reserved),
    ];
    for (addr, class) in cases {
        assert_eq!(class_of(addr), Some(class), "{addr}");
    }
}

#[test]
fn public_ipv6_addresses_pass() {
    for addr in [
        "2606:4700:4700::1111",
        "2a00:1450:4001:82a::200e",
        "2001:4860:4860::8888",
        "2001:200::1",
    ] {
        assert_eq!(class_of(addr), None, "{addr}");
    }
}

#[test]
fn ipv6_embeddings_are_judged_by_the_ipv4_inside() {
    let cases = [
        ("::ffff:127.0.0.1", Embedding::Mapped, "127.0.0.1", Loopback),
        ("::ffff:0:10.1.2.3", Embedding::Mapped, "10.1.2.3", Private),
        (
            "::ffff:169.254.169.254",
            Embedding::Mapped,
            "169.254.169.254",
            CloudMetadata,
        ),
        ("::127.0.0.2", Embedding::Compatible, "127.0.0.2", Loopback),
        (
            "::192.168.0.1",
            Embedding::Compatible,
            "192.168.0.1",
            Private,
        ),
        ("64:ff9b::10.0.0.1", Embedding::Nat64, "10.0.0.1", Private),
        (
            "64:ff9b::a9fe:a9fe",
            Embedding::Nat64,
            "169.254.169.254",
            CloudMetadata,
        ),
        ("2002:7f00:1::", Embedding::SixToFour, "127.0.0.1", Loopback),
        (
            "2002:c0a8:101::1",
            Embedding::SixToFour,
            "192.168.1.1",
            Private,
        ),
    ];
    for (addr, how, v4, class) in cases {
        let got = classify(addr.parse().unwrap());
        assert_eq!(
            got,
            Some((class, Some((how, v4.parse().unwrap())))),
            "{addr}"
        );
    }
    // The same embeddings of a public IPv4 address pass.
    for addr in [
        "::ffff:8.8.8.8",
        "64:ff9b::8.8.8.8",
        "2002:0808:0808::1",
        "::8.8.4.4",
    ] {
        assert_eq!(class_of(addr), None, "{addr}");
    }
}

#[test]
fn an_allow_listed_network_is_allowed_and_nothing_beside_it() {
    let policy = Policy::new(vec![
        "127.0.0.1/32".parse().unwrap(),
        "10.1.0.0/16".parse().unwrap(),
        "fd00::/8".parse().unwrap(),
    ]);
    for ok in ["127.0.0.1", "10.1.200.3", "fd00::5", "93.184.216.34"] {
        assert_eq!(policy.check(ok.parse().unwrap()), Ok(()), "{ok}");
    }
    for refused in ["127.0.0.2", "10.2.0.1", "fc00::1", "::1"] {
        assert!(policy.check(refused.parse().unwrap()).is_err(), "{refused}");
    }
}

#[test]
fn allowing_an_ipv4_address_allows_its_mapped_spelling_but_not_other_embeddings() {
    let policy = Policy::new(vec!["127.0.0.1/32".parse().unwrap()]);
    assert_eq!(policy.check("::ffff:127.0.0.1".parse().unwrap()), Ok(()));
    assert!(policy.check("::ffff:127.0.0.2".parse().unwrap()).is_err());
    assert!(policy.check("2002:7f00:1::".parse().unwrap()).is_err());
    assert!(policy.check("64:ff9b::127.0.0.1".parse().unwrap()).is_err());
}

#[test]
fn an_empty_policy_refuses_every_class_with_a_readable_reason() {
    let policy = Policy::default();
    let r = policy
        .check("169.254.169.254".parse().unwrap())
        .unwrap_err();
    assert_eq!(r.to_string(), "169.254.169.254 (cloud metadata address)");
    let r = policy
        .check("::ffff:10.0.0.1".parse().unwrap())
        .unwrap_err();
    assert_eq!(
        r.to_string(),
        "::ffff:10.0.0.1 (IPv4-mapped 10.0.0.1, private address)"
    );
}
