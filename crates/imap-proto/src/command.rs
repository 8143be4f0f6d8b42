//! The commands imapd understands, as owned values.
//!
//! The parser (imap-codec underneath) produces these; the session, FETCH and SEARCH
//! code work only with them. Mailbox names are as the client sent them (modified
//! UTF-7 unless UTF8=ACCEPT is enabled): [`crate::mutf7`] converts.

/// One command with its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The client's tag, echoed in the tagged reply.
    pub tag: String,
    /// What the client asks for.
    pub body: CommandBody,
}

/// Every command, in any state; the session refuses those not valid in its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    /// CAPABILITY.
    Capability,
    /// NOOP.
    Noop,
    /// LOGOUT.
    Logout,
    /// STARTTLS.
    StartTls,
    /// AUTHENTICATE mechanism, with the SASL-IR initial response (base64 text as
    /// sent; `=` is an empty response) if given.
    Authenticate {
        /// Upper-cased mechanism name.
        mechanism: String,
        /// The initial response, still base64.
        initial: Option<String>,
    },
    /// LOGIN user password.
    Login {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// ENABLE capabilities (upper-cased).
    Enable(Vec<String>),
    /// SELECT (`read_only: false`) or EXAMINE (`read_only: true`).
    Select {
        /// The mailbox.
        mailbox: String,
        /// EXAMINE.
        read_only: bool,
        /// The CONDSTORE select parameter.
        condstore: bool,
    },
    /// CREATE mailbox (a trailing hierarchy separator is kept as sent).
    Create(String),
    /// DELETE mailbox.
    Delete(String),
    /// RENAME from to.
    Rename {
        /// The current name.
        from: String,
        /// The new name.
        to: String,
    },
    /// SUBSCRIBE mailbox.
    Subscribe(String),
    /// UNSUBSCRIBE mailbox.
    Unsubscribe(String),
    /// LIST, plain or extended (RFC 5258 subset: selection and return options).
    List {
        /// The reference name.
        reference: String,
        /// One or more patterns with `*` and `%`.
        patterns: Vec<String>,
        /// Selection options.
        select: Vec<ListSelect>,
        /// Return options.
        returns: Vec<ListReturn>,
    },
    /// LSUB reference pattern.
    Lsub {
        /// The reference name.
        reference: String,
        /// The pattern.
        pattern: String,
    },
    /// NAMESPACE.
    Namespace,
    /// STATUS mailbox (items).
    Status {
        /// The mailbox.
        mailbox: String,
        /// What to report.
        items: Vec<StatusItem>,
    },
    /// APPEND mailbox \[flags\] \[date\] literal.
    Append {
        /// The mailbox.
        mailbox: String,
        /// Flags to set on the new message.
        flags: Vec<Flag>,
        /// Its internal date.
        date: Option<DateTime>,
        /// The message.
        message: Vec<u8>,
    },
    /// CHECK.
    Check,
    /// CLOSE.
    Close,
    /// UNSELECT.
    Unselect,
    /// EXPUNGE, or UID EXPUNGE set (UIDPLUS).
    Expunge {
        /// For UID EXPUNGE: only these UIDs.
        uids: Option<SequenceSet>,
    },
    /// SEARCH / UID SEARCH.
    Search {
        /// UID SEARCH.
        uid: bool,
        /// CHARSET, upper-cased, if given.
        charset: Option<String>,
        /// The criteria (several top-level keys are an [`SearchKey::And`]).
        criteria: SearchKey,
        /// ESEARCH return options; `None` for a plain SEARCH, `Some(empty)` for
        /// `RETURN ()` (which means ALL).
        returns: Option<Vec<SearchReturn>>,
    },
    /// FETCH / UID FETCH.
    Fetch {
        /// UID FETCH.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// What to fetch; macros (ALL, FAST, FULL) already expanded.
        items: Vec<FetchAttr>,
        /// CONDSTORE CHANGEDSINCE modifier.
        changed_since: Option<u64>,
    },
    /// STORE / UID STORE.
    Store {
        /// UID STORE.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// Replace, add or remove.
        kind: StoreKind,
        /// `.SILENT`.
        silent: bool,
        /// The flags.
        flags: Vec<Flag>,
        /// CONDSTORE UNCHANGEDSINCE modifier.
        unchanged_since: Option<u64>,
    },
    /// COPY / UID COPY.
    Copy {
        /// UID COPY.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// The destination.
        mailbox: String,
    },
    /// MOVE / UID MOVE.
    Move {
        /// UID MOVE.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// The destination.
        mailbox: String,
    },
    /// IDLE (the session then waits for `DONE`).
    Idle,
    /// ID, with the client's field/value pairs (`None` for `ID NIL`).
    Id(Option<Vec<(String, Option<String>)>>),
}

/// A message flag as a client names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `\Seen`.
    Seen,
    /// `\Answered`.
    Answered,
    /// `\Flagged`.
    Flagged,
    /// `\Deleted`.
    Deleted,
    /// `\Draft`.
    Draft,
    /// `\Recent` (not settable; may appear in SEARCH or be refused in STORE).
    Recent,
    /// A keyword (an atom without a backslash), as sent.
    Keyword(String),
    /// Another `\Name` flag, without the backslash.
    Extension(String),
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// One end of a sequence range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNum {
    /// A number (sequence number or UID, depending on the command), at least 1.
    Value(u32),
    /// `*`: the largest number in use.
    Largest,
}

/// `a`, `a:b`, with `a:b` meaning the same as `b:a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    /// One end.
    pub start: SeqNum,
    /// The other end (the same as `start` for a single number).
    pub end: SeqNum,
}

/// A sequence set: `1,3:5,7:*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet(pub Vec<SeqRange>);

impl SequenceSet {
    /// Whether `n` is in the set when `*` stands for `largest`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        let value = |s: SeqNum| match s {
            SeqNum::Value(v) => v,
            SeqNum::Largest => largest,
        };
        self.0.iter().any(|r| {
            let (a, b) = (value(r.start), value(r.end));
            a.min(b) <= n && n <= a.max(b)
        })
    }
}

/// A calendar date (SEARCH BEFORE/ON/SINCE and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// The year, e.g. 2026.
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
}

/// A date with time and zone (APPEND's internal date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// The date.
    pub date: Date,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=60.
    pub second: u8,
    /// The zone's offset from UTC in minutes (`-0130` is -90).
    pub zone_minutes: i16,
}

/// STATUS items (and LIST-STATUS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    /// MESSAGES.
    Messages,
    /// RECENT.
    Recent,
    /// UIDNEXT.
    UidNext,
    /// UIDVALIDITY.
    UidValidity,
    /// UNSEEN.
    Unseen,
    /// DELETED (RFC 9051).
    Deleted,
    /// SIZE (RFC 8438).
    Size,
    /// HIGHESTMODSEQ (CONDSTORE).
    HighestModSeq,
}

/// LIST selection options (RFC 5258, RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSelect {
    /// SUBSCRIBED.
    Subscribed,
    /// REMOTE (no remote mailboxes here: accepted and ignored).
    Remote,
    /// RECURSIVEMATCH.
    RecursiveMatch,
    /// SPECIAL-USE.
    SpecialUse,
}

/// LIST return options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListReturn {
    /// SUBSCRIBED.
    Subscribed,
    /// CHILDREN.
    Children,
    /// SPECIAL-USE.
    SpecialUse,
    /// STATUS (items) (RFC 5819).
    Status(Vec<StatusItem>),
}

/// ESEARCH return options (RFC 4731).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchReturn {
    /// MIN.
    Min,
    /// MAX.
    Max,
    /// ALL.
    All,
    /// COUNT.
    Count,
}

/// A SEARCH key (RFC 3501 6.4.4, RFC 9051 6.4.4, CONDSTORE's MODSEQ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// Every key must match (a parenthesised list, or several top-level keys).
    And(Vec<SearchKey>),
    /// ALL.
    All,
    /// ANSWERED.
    Answered,
    /// BCC string.
    Bcc(String),
    /// BEFORE date (internal date).
    Before(Date),
    /// BODY string.
    Body(String),
    /// CC string.
    Cc(String),
    /// DELETED.
    Deleted,
    /// DRAFT.
    Draft,
    /// FLAGGED.
    Flagged,
    /// FROM string.
    From(String),
    /// HEADER field-name string.
    Header(String, String),
    /// KEYWORD flag.
    Keyword(String),
    /// LARGER n.
    Larger(u64),
    /// NEW (RECENT and UNSEEN).
    New,
    /// NOT key.
    Not(Box<SearchKey>),
    /// OLD.
    Old,
    /// ON date.
    On(Date),
    /// OR key key.
    Or(Box<SearchKey>, Box<SearchKey>),
    /// RECENT.
    Recent,
    /// SEEN.
    Seen,
    /// SENTBEFORE date (Date: header).
    SentBefore(Date),
    /// SENTON date.
    SentOn(Date),
    /// SENTSINCE date.
    SentSince(Date),
    /// SINCE date.
    Since(Date),
    /// SMALLER n.
    Smaller(u64),
    /// SUBJECT string.
    Subject(String),
    /// TEXT string (header and body).
    Text(String),
    /// TO string.
    To(String),
    /// UID set.
    Uid(SequenceSet),
    /// UNANSWERED.
    Unanswered,
    /// UNDELETED.
    Undeleted,
    /// UNDRAFT.
    Undraft,
    /// UNFLAGGED.
    Unflagged,
    /// UNKEYWORD flag.
    Unkeyword(String),
    /// UNSEEN.
    Unseen,
    /// A bare sequence set.
    Sequence(SequenceSet),
    /// MODSEQ n (CONDSTORE; the entry name and type are ignored).
    ModSeq(u64),
}

/// A FETCH data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    /// FLAGS.
    Flags,
    /// INTERNALDATE.
    InternalDate,
    /// RFC822.SIZE.
    Rfc822Size,
    /// ENVELOPE.
    Envelope,
    /// BODY (the non-extensible structure).
    Body,
    /// BODYSTRUCTURE.
    BodyStructure,
    /// UID.
    Uid,
    /// MODSEQ (CONDSTORE).
    ModSeq,
    /// RFC822 (the same as BODY[], sets \Seen).
    Rfc822,
    /// RFC822.HEADER (the same as `BODY.PEEK[HEADER]`).
    Rfc822Header,
    /// RFC822.TEXT (the same as `BODY[TEXT]`, sets \Seen).
    Rfc822Text,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`.
    BodySection {
        /// BODY.PEEK: do not set \Seen.
        peek: bool,
        /// Which part.
        section: Section,
        /// `<offset.count>`.
        partial: Option<(u32, u32)>,
    },
    /// `BINARY[part]<partial>` or BINARY.PEEK (RFC 3516).
    Binary {
        /// BINARY.PEEK.
        peek: bool,
        /// The part number path (empty: the whole message).
        part: Vec<u32>,
        /// `<offset.count>`.
        partial: Option<(u32, u32)>,
    },
    /// `BINARY.SIZE[part]`.
    BinarySize {
        /// The part number path.
        part: Vec<u32>,
    },
}

/// A body section specifier: part numbers, then what of that part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// `1.2.3`; empty for the whole message.
    pub part: Vec<u32>,
    /// HEADER, TEXT, MIME...; `None` for the whole part.
    pub text: Option<SectionText>,
}

/// What of a part a section names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// HEADER.
    Header,
    /// HEADER.FIELDS (names, upper-cased).
    HeaderFields(Vec<String>),
    /// HEADER.FIELDS.NOT (names, upper-cased).
    HeaderFieldsNot(Vec<String>),
    /// TEXT.
    Text,
    /// MIME (only with a part number).
    Mime,
}
