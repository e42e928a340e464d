use super::header::{read, Limits};
use super::package::split_evr;
use super::*;

#[test]
fn splits_dependency_versions() {
    assert_eq!(
        split_evr("1:2.0-3.el9"),
        ("1".into(), "2.0".into(), Some("3.el9".into()))
    );
    assert_eq!(split_evr("2.0"), ("0".into(), "2.0".into(), None));
    assert_eq!(split_evr("x:2.0"), ("0".into(), "x:2.0".into(), None));
}

#[test]
fn refuses_what_is_not_an_rpm() {
    for bytes in [&b""[..], b"\xed\xab\xee\xdb", &[0u8; 200]] {
        assert!(read(&mut &bytes[..], &Limits::default()).is_err());
    }
}
