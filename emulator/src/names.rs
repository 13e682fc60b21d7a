//! What Storyblok makes of a file name: its parameterized form, its size, its Content-Type.

/// Storyblok's file-name parameterization: lower-case, every `.` but the last becomes `_`,
/// anything outside `[a-z0-9._-]` becomes `-` (runs collapsed, trimmed at both ends).
pub(crate) fn parameterize(filename: &str) -> String {
    let lower = filename.to_lowercase();
    let last_dot = lower.rfind('.');
    let mut out = String::with_capacity(lower.len());
    for (i, c) in lower.char_indices() {
        let c = match c {
            '.' if Some(i) != last_dot => '_',
            'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '-',
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_matches('-');
    if out.is_empty() || out == "." {
        "file".to_string()
    } else {
        out.to_string()
    }
}

/// `{w}x{h}` (either `x` or `X`) normalised to a lower-case `x`.
pub(crate) fn normalize_size(size: &str) -> Option<String> {
    let (w, h) = size.split_once(['x', 'X'])?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(w) && digits(h)).then(|| format!("{w}x{h}"))
}

/// The Content-Type Storyblok would give a file name's extension.
pub(crate) fn content_type_for(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "avif" => "image/avif",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        "json" => "application/json",
        "txt" => "text/plain",
        "css" => "text/css",
        "js" => "application/javascript",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// The ten hex digits that make a new asset's key unique, as Storyblok's do.
pub(crate) fn key_hash(credentials: &crate::sigv4::Credentials, id: u64, event: u64) -> String {
    let seed = format!("{}/{id}/{event}", credentials.secret_key);
    let mut hash = crate::sigv4::sha256_hex(seed.as_bytes());
    hash.truncate(10);
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameterizes_like_storyblok() {
        assert_eq!(parameterize("Mars.JPG"), "mars.jpg");
        assert_eq!(
            parameterize("Mars Photo.v2.final.png"),
            "mars-photo_v2_final.png"
        );
        assert_eq!(parameterize("  ünïcode   name!!.PNG "), "n-code-name-.png");
        assert_eq!(parameterize("a--b__c.tar.gz"), "a-b__c_tar.gz");
        assert_eq!(parameterize("no_extension"), "no_extension");
        assert_eq!(parameterize("???"), "file");
        assert_eq!(parameterize("."), "file");
        assert_eq!(parameterize(".hidden"), ".hidden");
        assert_eq!(parameterize("-lead-.png"), "lead-.png");
    }

    #[test]
    fn sizes() {
        assert_eq!(normalize_size("640x480").as_deref(), Some("640x480"));
        assert_eq!(normalize_size("640X480").as_deref(), Some("640x480"));
        assert_eq!(normalize_size("abc"), None);
        assert_eq!(normalize_size("x480"), None);
        assert_eq!(normalize_size("640x"), None);
        assert_eq!(normalize_size("6.4x480"), None);
        assert_eq!(normalize_size("640x480x3"), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type_for("a.png"), "image/png");
        assert_eq!(content_type_for("a.jpeg"), "image/jpeg");
        assert_eq!(content_type_for("a.svg"), "image/svg+xml");
        assert_eq!(content_type_for("a.tar_gz"), "application/octet-stream");
        assert_eq!(content_type_for("noext"), "application/octet-stream");
    }
}
