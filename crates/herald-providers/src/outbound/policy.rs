//! Which destination addresses Herald may connect to. Every address a provider request would
//! reach — an IP literal in the URL, or each address a hostname resolves to — is judged here:
//! refused when it falls in a class that reaches the machine itself, its network or its cloud's
//! metadata service, unless the operator listed it in `HERALD_OUTBOUND_ALLOW`. Nothing here does
//! I/O, so every class is unit-tested without connecting anywhere.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address is refused: the class it falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressClass {
    /// A cloud provider's instance metadata service (169.254.169.254, fd00:ec2::254,
    /// 100.100.100.200): named on its own because reaching it is the classic SSRF prize.
    CloudMetadata,
    Unspecified,
    /// 0.0.0.0/8 other than 0.0.0.0 ("this network").
    ThisNetwork,
    Loopback,
    /// 10/8, 172.16/12, 192.168/16.
    Private,
    /// 100.64/10, carrier-grade NAT.
    SharedAddressSpace,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// fc00::/7.
    UniqueLocal,
    /// fec0::/10, deprecated but still routed inside some networks.
    SiteLocal,
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// 198.18/15, 2001:2::/48.
    Benchmarking,
    /// 2001::/32: the real destination hides in an obfuscated IPv4.
    Teredo,
    /// 240/4, 192.0.0/24, 192.88.99/24, and IPv6 outside the global unicast 2000::/3 or in its
    /// IETF-reserved blocks.
    Reserved,
}

impl AddressClass {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::CloudMetadata => "cloud metadata",
            AddressClass::Unspecified => "unspecified",
            AddressClass::ThisNetwork => "\"this network\"",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::SharedAddressSpace => "shared (carrier-grade NAT)",
            AddressClass::LinkLocal => "link-local",
            AddressClass::UniqueLocal => "unique local",
            AddressClass::SiteLocal => "site-local",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Documentation => "documentation",
            AddressClass::Benchmarking => "benchmarking",
            AddressClass::Teredo => "Teredo tunnel",
            AddressClass::Reserved => "reserved",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an address relates to the IPv4 address that decides its class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:a.b.c.d` (and the SIIT `::ffff:0:a.b.c.d`): the kernel connects to the IPv4 itself.
    Mapped,
    /// `::a.b.c.d`, deprecated IPv4-compatible.
    Compatible,
    /// `64:ff9b::a.b.c.d`, well-known NAT64 prefix.
    Nat64,
    /// `2002:AABB:CCDD::/48`, 6to4.
    SixToFour,
}

impl Embedding {
    fn as_str(self) -> &'static str {
        match self {
            Embedding::Mapped => "IPv4-mapped",
            Embedding::Compatible => "IPv4-compatible",
            Embedding::Nat64 => "NAT64",
            Embedding::SixToFour => "6to4",
        }
    }
}

/// A refused destination address, with its class (and the IPv4 inside it, for IPv6 embeddings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub addr: IpAddr,
    pub class: AddressClass,
    pub embedded: Option<(Embedding, Ipv4Addr)>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.embedded {
            Some((how, v4)) => write!(
                f,
                "{} ({} {}, {} address)",
                self.addr,
                how.as_str(),
                v4,
                self.class
            ),
            None => write!(f, "{} ({} address)", self.addr, self.class),
        }
    }
}

/// The outbound address policy: refuse every special-purpose class unless allow-listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    allow: Vec<IpNet>,
}

impl Policy {
    pub fn new(allow: Vec<IpNet>) -> Self {
        Policy { allow }
    }

    /// `Ok` when Herald may connect to `addr`, else why not.
    pub fn check(&self, addr: IpAddr) -> Result<(), Refusal> {
        if self.allow.iter().any(|net| net.contains(&addr)) {
            return Ok(());
        }
        let Some((class, embedded)) = classify(addr) else {
            return Ok(());
        };
        // An IPv4-mapped address is a plain IPv4 connection in disguise: allowing the IPv4
        // allows its mapped spelling too. Other embeddings reach a translator, not the IPv4.
        if let Some((Embedding::Mapped, v4)) = embedded {
            if self.allow.iter().any(|net| net.contains(&IpAddr::V4(v4))) {
                return Ok(());
            }
        }
        Err(Refusal {
            addr,
            class,
            embedded,
        })
    }
}

/// The refused class of `addr`, or `None` for an ordinary public address. For IPv6 addresses that
/// embed an IPv4 address, the class is the embedded address's.
pub fn classify(addr: IpAddr) -> Option<(AddressClass, Option<(Embedding, Ipv4Addr)>)> {
    match addr {
        IpAddr::V4(v4) => classify_v4(v4).map(|c| (c, None)),
        IpAddr::V6(v6) => {
            if let Some((how, v4)) = embedded_v4(v6) {
                return classify_v4(v4).map(|c| (c, Some((how, v4))));
            }
            classify_v6(v6).map(|c| (c, None))
        }
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    use AddressClass::*;
    let o = ip.octets();
    let in_net = |base: [u8; 4], prefix: u32| {
        let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
        u32::from(ip) & mask == u32::from(Ipv4Addr::from(base)) & mask
    };
    Some(match () {
        // Metadata first: 169.254.169.254 is also link-local and 100.100.100.200 shared space,
        // but the operator should read what it really is.
        _ if o == [169, 254, 169, 254] || o == [100, 100, 100, 200] => CloudMetadata,
        _ if ip.is_unspecified() => Unspecified,
        _ if o[0] == 0 => ThisNetwork,
        _ if ip.is_loopback() => Loopback,
        _ if ip.is_private() => Private,
        _ if in_net([100, 64, 0, 0], 10) => SharedAddressSpace,
        _ if ip.is_link_local() => LinkLocal,
        _ if ip.is_broadcast() => Broadcast,
        _ if ip.is_multicast() => Multicast,
        _ if ip.is_documentation() => Documentation,
        _ if in_net([198, 18, 0, 0], 15) => Benchmarking,
        _ if in_net([192, 0, 0, 0], 24) || in_net([192, 88, 99, 0], 24) => Reserved,
        _ if o[0] >= 240 => Reserved,
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address stands for, when it is one of the embeddings that route to
/// (or are translated to) that IPv4 address.
pub fn embedded_v4(ip: Ipv6Addr) -> Option<(Embedding, Ipv4Addr)> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => {
            Some((Embedding::Mapped, low))
        }
        // `::` and `::1` are IPv6's own unspecified and loopback, not IPv4-compatible.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some((Embedding::Compatible, low)),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some((Embedding::Nat64, low)),
        [0x2002, hi, lo, ..] => Some((
            Embedding::SixToFour,
            Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8),
        )),
        _ => None,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    use AddressClass::*;
    let s = ip.segments();
    let in_net = |base: [u16; 8], prefix: u32| {
        let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
        u128::from(ip) & mask == u128::from(Ipv6Addr::from(base)) & mask
    };
    Some(match () {
        _ if s == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] => CloudMetadata,
        _ if ip.is_unspecified() => Unspecified,
        _ if ip.is_loopback() => Loopback,
        _ if ip.is_multicast() => Multicast,
        _ if in_net([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7) => UniqueLocal,
        _ if in_net([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10) => LinkLocal,
        _ if in_net([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10) => SiteLocal,
        _ if in_net([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32) => Documentation,
        _ if in_net([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20) => Documentation,
        _ if in_net([0x2001, 0x0002, 0, 0, 0, 0, 0, 0], 48) => Benchmarking,
        _ if in_net([0x2001, 0, 0, 0, 0, 0, 0, 0], 32) => Teredo,
        // The rest of the IETF protocol assignments block (ORCHID, AS112, …): no webhook lives
        // there.
        _ if in_net([0x2001, 0, 0, 0, 0, 0, 0, 0], 23) => Reserved,
        // Only 2000::/3 is allocated global unicast; anything else (100::/64 discard-only,
        // 64:ff9b:1::/48 local NAT64, …) has no business receiving a webhook.
        _ if !in_net([0x2000, 0, 0, 0, 0, 0, 0, 0], 3) => Reserved,
        _ => return None,
    })
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
