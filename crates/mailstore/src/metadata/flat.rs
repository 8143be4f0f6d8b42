//! flat - the serde form of [`BodyStructure`]: its parts in pre-order,
//! each with its fields and what follows it (nothing, its N parts, or
//! the envelope of the message whose body comes next).
//!
//! Deriving serde on the tree would make decoding recurse as deep as the
//! encoded data nests, and the cache file is the user's: a crafted one
//! could overflow the stack. A flat list decodes without recursion, and
//! the tree is then rebuilt with a depth check ([`MAX_NESTING`]); any
//! inconsistency (a count beyond the list, parts left over, a multipart
//! without parts) is a decoding error, so the cache entry is recomputed.

use serde::de::Error as _;
use serde::ser::{Error as _, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{BodyStructure, Content, Embedded, Envelope, MAX_NESTING, PartInfo};

/// KindRef - what follows a part, for encoding.
#[derive(Serialize)]
#[serde(rename = "Kind")]
enum KindRef<'a> {
    /// Nothing: a leaf.
    Single,
    /// This many parts (each with what follows it).
    Multipart(u32),
    /// The embedded message's body, whose envelope is this.
    Message(&'a Envelope),
}

/// Kind - what follows a part, decoded. Same variants, same order as
/// [`KindRef`].
#[derive(Deserialize)]
enum Kind {
    /// Nothing: a leaf.
    Single,
    /// This many parts.
    Multipart(u32),
    /// The embedded message's body, with this envelope.
    Message(Box<Envelope>),
}

impl Serialize for BodyStructure {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut order = Vec::new();
        let mut stack = vec![self];
        while let Some(part) = stack.pop() {
            order.push(part);
            match &part.content {
                Content::Single => {}
                Content::Multipart(parts) => stack.extend(parts.iter().rev()),
                Content::Message(embedded) => stack.push(&embedded.body),
            }
        }
        let mut seq = serializer.serialize_seq(Some(order.len()))?;
        for part in order {
            let kind = match &part.content {
                Content::Single => KindRef::Single,
                Content::Multipart(parts) => KindRef::Multipart(
                    u32::try_from(parts.len()).map_err(|_| S::Error::custom("too many parts"))?,
                ),
                Content::Message(embedded) => KindRef::Message(&embedded.envelope),
            };
            seq.serialize_element(&(&part.info, kind))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for BodyStructure {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let flat: Vec<(PartInfo, Kind)> = Vec::deserialize(deserializer)?;
        let mut parts = flat.into_iter();
        let root = build(&mut parts, 0).map_err(D::Error::custom)?;
        if parts.next().is_some() {
            return Err(D::Error::custom("parts left over after the structure"));
        }
        Ok(root)
    }
}

/// build - the part at the front of `parts`, and what follows it.
fn build(
    parts: &mut impl Iterator<Item = (PartInfo, Kind)>,
    depth: u32,
) -> Result<BodyStructure, &'static str> {
    if depth > MAX_NESTING {
        return Err("parts nested too deep");
    }
    let (info, kind) = parts.next().ok_or("structure ends early")?;
    let content = match kind {
        Kind::Single => Content::Single,
        Kind::Multipart(0) => return Err("multipart without parts"),
        Kind::Multipart(count) => {
            let mut children = Vec::new();
            for _ in 0..count {
                children.push(build(parts, depth + 1)?);
            }
            Content::Multipart(children)
        }
        Kind::Message(envelope) => Content::Message(Box::new(Embedded {
            envelope: *envelope,
            body: build(parts, depth + 1)?,
        })),
    };
    Ok(BodyStructure { info, content })
}
