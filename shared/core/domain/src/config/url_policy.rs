//! The URL policy of every API the product sends credentials or calls to: which hosts are never
//! called, and where plain http is allowed.

pub(super) fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Why a host must never receive the product's requests: link-local addresses and the cloud
/// metadata services (a config must not turn the worker into a way to read its own
/// credentials).
pub(super) fn forbidden_host(u: &url::Url) -> Option<&'static str> {
    match u.host()? {
        url::Host::Ipv4(ip) => {
            let o = ip.octets();
            if o[0] == 169 && o[1] == 254 {
                Some("a link-local address (169.254.0.0/16, where cloud metadata services live)")
            } else if o == [100, 100, 100, 200] || o == [0, 0, 0, 0] || ip.is_unspecified() {
                Some("a cloud metadata or unspecified address")
            } else {
                None
            }
        }
        url::Host::Ipv6(ip) => {
            let s = ip.segments();
            if (s[0] & 0xffc0) == 0xfe80 {
                Some("a link-local address (fe80::/10)")
            } else if s == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] || ip.is_unspecified() {
                Some("a cloud metadata or unspecified address")
            } else {
                ip.to_ipv4_mapped()
                    .and_then(|v4| forbidden_host(&url::Url::parse(&format!("http://{v4}/")).ok()?))
            }
        }
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            (d == "metadata"
                || d == "metadata.google.internal"
                || d.ends_with(".metadata.google.internal"))
            .then_some("a cloud metadata host")
        }
    }
}
