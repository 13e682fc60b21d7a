//! The request log: what the emulator received and answered.

use serde_json::Value;

/// The endpoint a request belongs to.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/spaces/{space}/assets/`.
    Sign,
    /// `POST` to the S3 URL.
    Upload,
    /// `GET /v1/spaces/{space}/assets/{id}/finish_upload`.
    Finish,
    /// `DELETE /v1/spaces/{space}/assets/{id}`.
    Delete,
    /// `GET /v1/spaces/{space}/assets/` (the asset list).
    ListAssets,
    /// `PUT` or `PATCH /v1/spaces/{space}/assets/{id}` (update an asset's metadata).
    UpdateAsset,
    /// `GET /v1/spaces/{space}/asset_folders/`.
    ListFolders,
    /// `GET /v1/spaces/{space}/asset_folders/{id}` (one folder).
    GetFolder,
    /// `POST /v1/spaces/{space}/asset_folders/`.
    CreateFolder,
    /// `GET /v1/spaces/{space}/internal_tags`.
    ListTags,
    /// `POST /v1/spaces/{space}/internal_tags`.
    CreateTag,
    /// `GET` or `HEAD` of a stored object, `/a.storyblok.com/{key}` (S3's GET Object, and the
    /// local CDN).
    Download,
    /// Anything else, including `GET /v1/spaces/{space}/assets/{id}`.
    Other,
}

/// One request as the emulator received it, and the status it answered.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The endpoint the request was classified as.
    pub endpoint: Endpoint,
    /// The HTTP method.
    pub method: String,
    /// The request target, query string included.
    pub path: String,
    /// The headers, names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The raw body of a Management API request, when it is at most
    /// [`RECORDED_BODY_LIMIT`](crate::RECORDED_BODY_LIMIT) bytes; empty otherwise, and always
    /// empty for S3 (see `form`).
    pub body: Vec<u8>,
    /// How many body bytes the emulator read, whether or not it kept them: 0 for a request
    /// answered from its head alone, or whose body was too large to read.
    pub body_len: u64,
    /// The body of a Management API request, when it is JSON and was kept (see `body`).
    pub json: Option<Value>,
    /// The parsed form of an S3 upload, when it parsed.
    pub form: Option<RecordedForm>,
    /// The status answered, also the 400 of a body the server could not read (a malformed
    /// chunked body); 0 if none was: the request is in progress, a fault dropped or cut its
    /// connection, or the connection closed or timed out before the request was read whole.
    pub status: u16,
}

impl RecordedRequest {
    /// The first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed `multipart/form-data` upload.
#[derive(Clone, Debug)]
pub struct RecordedForm {
    /// Every part, in order.
    pub parts: Vec<FormPart>,
}

impl RecordedForm {
    /// The non-file parts (not named `file`, no filename) as text, in order.
    pub fn fields(&self) -> Vec<(String, String)> {
        self.parts
            .iter()
            .filter(|p| p.name != "file" && p.filename.is_none())
            .map(|p| {
                (
                    p.name.clone(),
                    String::from_utf8_lossy(&p.value).into_owned(),
                )
            })
            .collect()
    }

    /// The part named `file`.
    pub fn file(&self) -> Option<&FormPart> {
        self.parts.iter().find(|p| p.name == "file")
    }

    /// Whether the last part is the one named `file`.
    pub fn file_is_last(&self) -> bool {
        self.parts.last().is_some_and(|p| p.name == "file")
    }
}

/// One part of a multipart form.
#[derive(Clone, Debug)]
pub struct FormPart {
    /// The `name` of its `Content-Disposition`.
    pub name: String,
    /// The `filename` of its `Content-Disposition`, if any.
    pub filename: Option<String>,
    /// Its `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// Its content, when it is at most [`RECORDED_BODY_LIMIT`](crate::RECORDED_BODY_LIMIT)
    /// bytes; empty otherwise (the stored object keeps a file's bytes, see
    /// [`Emulator::object`](crate::Emulator::object)).
    pub value: Vec<u8>,
    /// The length of its content in bytes, also when `value` was not kept.
    pub length: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_form_helpers() {
        let part = |name: &str, filename: Option<&str>| FormPart {
            name: name.into(),
            filename: filename.map(Into::into),
            content_type: None,
            value: b"v".to_vec(),
            length: 1,
        };
        let form = RecordedForm {
            parts: vec![part("key", None), part("file", Some("a.png"))],
        };
        assert_eq!(form.fields(), [("key".to_string(), "v".to_string())]);
        assert_eq!(form.file().map(|p| p.name.as_str()), Some("file"));
        assert!(form.file_is_last());
        let form = RecordedForm {
            parts: vec![part("file", Some("a.png")), part("key", None)],
        };
        assert!(!form.file_is_last());
        assert!(!RecordedForm { parts: Vec::new() }.file_is_last());
    }
}
