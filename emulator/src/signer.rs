//! Signing policies for a real S3 server, so that the emulator's Management API can stand in
//! front of an S3 implementation written by others.

/// Signs S3 POST policies for an external S3 server (see
/// [`EmulatorBuilder::external_s3`](super::EmulatorBuilder::external_s3)).
///
/// The emulator builds the policy in Storyblok's exact shape and asks the signer for the
/// parts that belong to the server: where to post, the bucket, the credential scope and the
/// signature. A real signer computes AWS Signature Version 4 (HMAC-SHA256) over the base64
/// policy, as [`sigv4::SigV4Signer`](crate::sigv4::SigV4Signer) does.
pub trait PolicySigner: Send + Sync {
    /// The `post_url` handed out, such as `http://127.0.0.1:4566/my-bucket`.
    fn post_url(&self) -> String;
    /// The bucket the policy's `bucket` condition names.
    fn bucket(&self) -> String;
    /// `x-amz-credential` for a policy dated `amz_date` (`YYYYMMDDTHHMMSSZ`), such as
    /// `AKID/20250905/us-east-1/s3/aws4_request`.
    fn credential(&self, amz_date: &str) -> String;
    /// `x-amz-signature` of the base64 policy dated `amz_date`, in lower-case hex.
    fn signature(&self, amz_date: &str, policy_base64: &str) -> String;
}

/// A shared signer, printable without its secrets.
#[derive(Clone)]
pub(crate) struct SharedSigner(pub(crate) std::sync::Arc<dyn PolicySigner>);

impl std::fmt::Debug for SharedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PolicySigner(post_url: {:?})", self.0.post_url())
    }
}
