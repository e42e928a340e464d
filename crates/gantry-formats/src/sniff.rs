//! Content-type detection from the first bytes of a file, then from its extension.

const MAGIC: &[(&[u8], &str)] = &[
    (b"\x1f\x8b", "application/gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"\x7fELF", "application/x-executable"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"\x28\xb5\x2f\xfd", "application/zstd"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"!<arch>\n", "application/vnd.debian.binary-package"),
    (b"\xed\xab\xee\xdb", "application/x-rpm"),
];

const EXTENSIONS: &[(&str, &str)] = &[
    (".json", "application/json"),
    (".xml", "application/xml"),
    (".html", "text/html"),
    (".txt", "text/plain"),
    (".md", "text/markdown"),
    (".yaml", "application/yaml"),
    (".yml", "application/yaml"),
    (".tar", "application/x-tar"),
    (".jar", "application/java-archive"),
];

/// Best guess of a file's media type.
pub fn content_type(filename: &str, head: &[u8]) -> &'static str {
    if let Some((_, ty)) = MAGIC.iter().find(|(magic, _)| head.starts_with(magic)) {
        return ty;
    }
    let lower = filename.to_ascii_lowercase();
    if let Some((_, ty)) = EXTENSIONS.iter().find(|(ext, _)| lower.ends_with(ext)) {
        return ty;
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return "application/x-tar";
    }
    if !head.is_empty() && std::str::from_utf8(head).is_ok() && !head.contains(&0) {
        return "text/plain";
    }
    "application/octet-stream"
}

#[cfg(test)]
mod tests {
    use super::content_type;

    #[test]
    fn detects_by_magic_then_extension() {
        assert_eq!(content_type("x", b"PK\x03\x04..."), "application/zip");
        assert_eq!(content_type("a.JSON", b"{}"), "application/json");
        assert_eq!(content_type("notes", b"hello"), "text/plain");
        assert_eq!(
            content_type("blob", b"\x00\x01"),
            "application/octet-stream"
        );
        assert_eq!(content_type("empty", b""), "application/octet-stream");
    }
}
