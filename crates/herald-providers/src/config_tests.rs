use super::*;

#[test]
fn the_allow_list_takes_addresses_and_networks_separated_by_commas() {
    let nets = parse_allow_list(" 127.0.0.1, 10.0.0.0/8,,::1 , fd00::/8,").unwrap();
    let want: Vec<IpNet> = ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(nets, want);
    assert_eq!(parse_allow_list("").unwrap(), Vec::<IpNet>::new());
    assert_eq!(parse_allow_list(" , ").unwrap(), Vec::<IpNet>::new());
}

#[test]
fn a_malformed_allow_entry_is_named_by_its_position() {
    let err = parse_allow_list("127.0.0.1, localhost").unwrap_err();
    assert_eq!(
        err.to_string(),
        "HERALD_OUTBOUND_ALLOW: entry 2 (\"localhost\") is not an IP address or a CIDR network \
         (examples: 127.0.0.1, 10.0.0.0/8, ::1, fd00::/8)"
    );
    for bad in [
        "10.0.0.0/33",
        "10.0.0/8",
        "::1/129",
        "1.2.3.4/",
        "/8",
        "256.0.0.1",
    ] {
        assert!(
            matches!(
                parse_allow_list(bad),
                Err(ConfigError::AllowEntry { position: 1, .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn an_allow_network_with_host_bits_suggests_both_readings() {
    let err = parse_allow_list("10.0.0.1/8").unwrap_err();
    assert_eq!(
        err.to_string(),
        "HERALD_OUTBOUND_ALLOW: entry 1 (\"10.0.0.1/8\") has bits set after its prefix length; \
         did you mean 10.0.0.0/8 (the network) or 10.0.0.1/32 (one host)?"
    );
}

#[test]
fn endpoint_overrides_are_read_by_upper_cased_provider_id() {
    let vars = [
        ("HERALD_PROVIDER_ENDPOINT_FCM", "http://127.0.0.1:9000"),
        (
            "HERALD_PROVIDER_ENDPOINT_ONE_SIGNAL",
            "http://127.0.0.1:9001/prefix/",
        ),
        (
            "HERALD_PROVIDER_ENDPOINT_PUSHER_BEAMS",
            "https://beams.test",
        ),
        ("HERALD_OTHER", "ignored"),
        ("PATH", "/usr/bin"),
    ];
    let endpoints = parse_provider_endpoints(vars).unwrap();
    assert_eq!(endpoints.len(), 3);
    assert_eq!(
        endpoints[&ProviderId::Fcm].as_str(),
        "http://127.0.0.1:9000/"
    );
    assert_eq!(
        endpoints[&ProviderId::OneSignal].as_str(),
        "http://127.0.0.1:9001/prefix/"
    );
    assert_eq!(
        endpoints[&ProviderId::PusherBeams].as_str(),
        "https://beams.test/"
    );
}

#[test]
fn an_unknown_provider_in_an_endpoint_variable_lists_the_known_ones() {
    let err = parse_provider_endpoints([("HERALD_PROVIDER_ENDPOINT_FCMV2", "http://x.test")])
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "HERALD_PROVIDER_ENDPOINT_FCMV2: no provider has the id \"FCMV2\"; the ids are SLACK, "
        ),
        "{text}"
    );
    assert!(text.contains("ONE_SIGNAL"), "{text}");
    // The lower-case spelling is not the variable's convention.
    assert!(parse_provider_endpoints([("HERALD_PROVIDER_ENDPOINT_fcm", "http://x.test")]).is_err());
}

#[test]
fn an_endpoint_must_be_a_plain_http_base_url() {
    let cases = [
        ("127.0.0.1:9000", "not a URL"),
        (
            "ftp://files.test",
            "only http and https endpoints are supported",
        ),
        (
            "http://user:pw@x.test",
            "credentials in the URL are not supported",
        ),
        ("http://x.test/?a=1", "a base URL has no query or fragment"),
        ("http://x.test/#top", "a base URL has no query or fragment"),
    ];
    for (value, reason) in cases {
        let err = parse_provider_endpoints([("HERALD_PROVIDER_ENDPOINT_EXPO", value)]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("HERALD_PROVIDER_ENDPOINT_EXPO: ") && text.contains(reason),
            "{value}: {text}"
        );
    }
}

#[test]
fn the_provider_path_is_appended_to_the_override_or_the_default_base() {
    let cfg = ProvidersConfig::from_vars([
        ("HERALD_PROVIDER_ENDPOINT_FCM", "http://127.0.0.1:9000"),
        (
            "HERALD_PROVIDER_ENDPOINT_EXPO",
            "http://127.0.0.1:9001/fake/",
        ),
        ("HERALD_OUTBOUND_ALLOW", "127.0.0.1"),
    ])
    .unwrap();
    assert_eq!(
        cfg.outbound.allow,
        vec!["127.0.0.1/32".parse::<IpNet>().unwrap()]
    );
    let fcm = cfg
        .provider_url(
            ProviderId::Fcm,
            "https://fcm.googleapis.com",
            "/v1/projects/p1/messages:send",
        )
        .unwrap();
    assert_eq!(
        fcm.as_str(),
        "http://127.0.0.1:9000/v1/projects/p1/messages:send"
    );
    let expo = cfg
        .provider_url(ProviderId::Expo, "https://exp.host", "/--/api/v2/push/send")
        .unwrap();
    assert_eq!(
        expo.as_str(),
        "http://127.0.0.1:9001/fake/--/api/v2/push/send"
    );
    let apns = cfg
        .provider_url(
            ProviderId::Apns,
            "https://api.push.apple.com",
            "/3/device/abc",
        )
        .unwrap();
    assert_eq!(apns.as_str(), "https://api.push.apple.com/3/device/abc");
}

#[test]
fn without_variables_the_defaults_allow_nothing_and_override_nothing() {
    let cfg = ProvidersConfig::from_vars(Vec::<(String, String)>::new()).unwrap();
    assert!(cfg.outbound.allow.is_empty());
    assert!(cfg.endpoints.is_empty());
    assert_eq!(cfg.outbound.max_response_bytes, 64 * 1024);
    assert!(matches!(
        ProvidersConfig::from_vars([("HERALD_OUTBOUND_ALLOW", "nope")]),
        Err(ConfigError::AllowEntry { .. })
    ));
}
