//! The one way out of the reporting side besides the wire: a consumer that
//! sees every finished span the reporter receives. The reporter knows
//! nothing else of it.

use crate::record::Record;

/// Sees every finished span a [`Reporter`](super::Reporter) receives, on
/// the reporter's batcher thread, before the queue bound applies: delivered
/// or not, each span is shown to it once. It must be quick and must not
/// block (the batcher's other spans wait meanwhile).
pub(crate) trait SpanConsumer: Send {
    /// Takes note of `span`.
    fn consume(&self, span: &Record);
}
