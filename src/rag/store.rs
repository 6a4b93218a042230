//! RAG, step 3 · the store: chunks, their sources and their vectors in one SQLite file.
//!
//! ```text
//! meta       (key, value)                              the encoder that made the vectors, their size
//! documents  (id, path UNIQUE, sha256, n_chunks, indexed_at)
//! chunks     (id, document_id → documents, position, first_line, last_line, n_tokens, text,
//!             embedding BLOB = dim little-endian f32, length 1)
//! answers    (id, question, embedding, answer, sources, created_at)      the semantic cache
//! ```
//!
//! SQLite is a real embedded database: one file, transactions, no server. Every change to one
//! document (its old chunks deleted, the new ones inserted, its hash and count updated, the
//! semantic cache cleared because the answers may be stale) is **one transaction**, so an
//! indexing run killed at any instant leaves every document either as it was or fully
//! replaced: never half. [`Store::check`] verifies exactly that.
//!
//! Reference: <https://www.sqlite.org/lang_transaction.html>, <https://www.sqlite.org/atomiccommit.html>.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::rag::chunk::Chunk;
use crate::{Error, Result};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS documents (
        id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL,
        n_chunks INTEGER NOT NULL, indexed_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS chunks (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        position INTEGER NOT NULL, first_line INTEGER NOT NULL, last_line INTEGER NOT NULL,
        n_tokens INTEGER NOT NULL, text TEXT NOT NULL, embedding BLOB NOT NULL,
        UNIQUE (document_id, position));
    CREATE TABLE IF NOT EXISTS answers (
        id INTEGER PRIMARY KEY, question TEXT NOT NULL, embedding BLOB NOT NULL,
        answer TEXT NOT NULL, sources TEXT NOT NULL, created_at INTEGER NOT NULL);
";

/// An open store.
pub struct Store {
    conn: Connection,
    pub path: PathBuf,
    pub dim: usize,
}

/// A stored chunk with its source.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredChunk {
    pub id: i64,
    pub path: String,
    pub position: usize,
    pub first_line: usize,
    pub last_line: usize,
    pub text: String,
}

/// An earlier question and its answer (the semantic cache).
#[derive(Clone, Debug, PartialEq)]
pub struct CachedAnswer {
    pub question: String,
    pub embedding: Vec<f32>,
    pub answer: String,
    pub sources: String,
}

/// Every vector in the store, contiguous: row `i` of `data` (`[n, dim]`) is chunk `ids[i]`.
#[derive(Clone, Debug, Default)]
pub struct Vectors {
    pub ids: Vec<i64>,
    pub dim: usize,
    pub data: Vec<f32>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A vector as a BLOB: `dim` little-endian f32.
pub fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8], dim: usize, what: &str, path: &Path) -> Result<Vec<f32>> {
    if b.len() != dim * 4 {
        return Err(Error::format(
            path,
            format!(
                "{what}: a vector of {} bytes, expected {dim} f32 ({} bytes)",
                b.len(),
                dim * 4
            ),
        ));
    }
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

impl Store {
    /// Open (or create) the store at `path` for vectors of `dim` made by the encoder `model`.
    /// A store made by another encoder is refused: its vectors live in a different space.
    pub fn open(path: &Path, model: &str, dim: usize) -> Result<Store> {
        let db = |e: rusqlite::Error| Error::format(path, format!("SQLite: {e}"));
        let conn = Connection::open(path).map_err(db)?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(db)?;
        // another `rag` command writing the same file: wait for its transaction, do not fail
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(|e| {
            Error::format(
                path,
                format!("not a glassbox RAG store ({e}); give another --db file"),
            )
        })?;
        let get = |k: &str| -> Result<Option<String>> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                .optional()
                .map_err(db)
        };
        match (get("model")?, get("dim")?) {
            (Some(m), Some(d)) if m == model && d == dim.to_string() => {}
            (Some(m), Some(d)) => {
                return Err(Error::invalid(format!(
                    "{}: made with the encoder {m} ({d} dimensions), not {model} ({dim}): \
                     use that encoder, or index into a new --db file",
                    path.display()
                )))
            }
            _ => {
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('model', ?1), ('dim', ?2)",
                    params![model, dim.to_string()],
                )
                .map_err(db)?;
            }
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            dim,
        })
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |e| Error::format(&self.path, format!("SQLite: {e}"))
    }

    /// The SHA-256 a document was indexed with, if it is in the store.
    pub fn document_sha(&self, doc: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT sha256 FROM documents WHERE path = ?1", [doc], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.db())
    }

    // ANCHOR: replace
    /// Replace everything stored for `doc` by `chunks` and their `vectors`, in one transaction.
    pub fn replace_document(
        &mut self,
        doc: &str,
        sha256: &str,
        chunks: &[Chunk],
        vectors: &[Vec<f32>],
    ) -> Result<()> {
        assert_eq!(chunks.len(), vectors.len(), "one vector per chunk");
        if let Some(v) = vectors.iter().find(|v| v.len() != self.dim) {
            return Err(Error::invalid(format!(
                "a vector of {} values for a store of {}",
                v.len(),
                self.dim
            )));
        }
        let path = self.path.clone();
        let db = |e: rusqlite::Error| Error::format(&path, format!("SQLite: {e}"));
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute("DELETE FROM documents WHERE path = ?1", [doc])
            .map_err(db)?; // chunks cascade
        tx.execute(
            "INSERT INTO documents (path, sha256, n_chunks, indexed_at) VALUES (?1, ?2, ?3, ?4)",
            params![doc, sha256, chunks.len() as i64, now()],
        )
        .map_err(db)?;
        let doc_id = tx.last_insert_rowid();
        {
            let mut ins = tx
                .prepare("INSERT INTO chunks (document_id, position, first_line, last_line, n_tokens, text, embedding) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .map_err(db)?;
            for (i, (c, v)) in chunks.iter().zip(vectors).enumerate() {
                ins.execute(params![
                    doc_id,
                    i as i64,
                    c.first_line as i64,
                    c.last_line as i64,
                    c.n_tokens as i64,
                    c.text,
                    to_blob(v)
                ])
                .map_err(db)?;
            }
        }
        tx.execute("DELETE FROM answers", []).map_err(db)?; // cached answers may now be stale
        tx.commit().map_err(db)
    }
    // ANCHOR_END: replace

    /// Remove a document and its chunks (one transaction). Returns whether it was there.
    pub fn remove_document(&mut self, doc: &str) -> Result<bool> {
        let path = self.path.clone();
        let db = |e: rusqlite::Error| Error::format(&path, format!("SQLite: {e}"));
        let tx = self.conn.transaction().map_err(db)?;
        let n = tx
            .execute("DELETE FROM documents WHERE path = ?1", [doc])
            .map_err(db)?;
        if n > 0 {
            tx.execute("DELETE FROM answers", []).map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(n > 0)
    }

    /// Every document path, sorted.
    pub fn documents(&self) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT path FROM documents ORDER BY path")
            .map_err(self.db())?;
        let rows = st.query_map([], |r| r.get(0)).map_err(self.db())?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(self.db())
    }

    /// Number of chunks stored.
    pub fn n_chunks(&self) -> Result<usize> {
        self.conn
            .query_row("SELECT COUNT(*) FROM chunks", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(self.db())
    }

    /// Every chunk vector, in one `[n, dim]` matrix (the scan reads it front to back).
    pub fn vectors(&self) -> Result<Vectors> {
        let mut st = self
            .conn
            .prepare("SELECT id, embedding FROM chunks ORDER BY id")
            .map_err(self.db())?;
        let mut rows = st.query([]).map_err(self.db())?;
        let mut out = Vectors {
            dim: self.dim,
            ..Vectors::default()
        };
        while let Some(r) = rows.next().map_err(self.db())? {
            let id: i64 = r.get(0).map_err(self.db())?;
            let blob: Vec<u8> = r.get(1).map_err(self.db())?;
            out.data.extend(from_blob(
                &blob,
                self.dim,
                &format!("chunk {id}"),
                &self.path,
            )?);
            out.ids.push(id);
        }
        Ok(out)
    }

    /// One chunk with its document's path.
    pub fn chunk(&self, id: i64) -> Result<StoredChunk> {
        self.conn
            .query_row(
                "SELECT c.id, d.path, c.position, c.first_line, c.last_line, c.text \
                 FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ?1",
                [id],
                |r| {
                    Ok(StoredChunk {
                        id: r.get(0)?,
                        path: r.get(1)?,
                        position: r.get::<_, i64>(2)? as usize,
                        first_line: r.get::<_, i64>(3)? as usize,
                        last_line: r.get::<_, i64>(4)? as usize,
                        text: r.get(5)?,
                    })
                },
            )
            .map_err(self.db())
    }

    /// The semantic cache: every earlier question with its answer.
    pub fn answers(&self) -> Result<Vec<CachedAnswer>> {
        let mut st = self
            .conn
            .prepare("SELECT question, embedding, answer, sources FROM answers ORDER BY id")
            .map_err(self.db())?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                ))
            })
            .map_err(self.db())?;
        let mut out = Vec::new();
        for row in rows {
            let (question, blob, answer, sources) = row.map_err(self.db())?;
            let embedding = from_blob(&blob, self.dim, "a cached question", &self.path)?;
            out.push(CachedAnswer {
                question,
                embedding,
                answer,
                sources,
            });
        }
        Ok(out)
    }

    /// Remember an answer for the semantic cache.
    pub fn add_answer(
        &self,
        question: &str,
        embedding: &[f32],
        answer: &str,
        sources: &str,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO answers (question, embedding, answer, sources, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![question, to_blob(embedding), answer, sources, now()],
            )
            .map(|_| ())
            .map_err(self.db())
    }

    /// The store is consistent: SQLite's own integrity check passes, and every document has
    /// exactly the chunks (positions 0 .. n_chunks) its row promises. An error names the first
    /// document that is not.
    pub fn check(&self) -> Result<()> {
        let ok: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(self.db())?;
        if ok != "ok" {
            return Err(Error::format(
                &self.path,
                format!("SQLite integrity check: {ok}"),
            ));
        }
        let bad: Option<(String, i64, i64)> = self
            .conn
            .query_row(
                "SELECT d.path, d.n_chunks, COUNT(c.id) FROM documents d \
                 LEFT JOIN chunks c ON c.document_id = d.id GROUP BY d.id \
                 HAVING COUNT(c.id) != d.n_chunks OR COALESCE(MAX(c.position), -1) != d.n_chunks - 1 LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(self.db())?;
        match bad {
            Some((p, want, got)) => Err(Error::format(
                &self.path,
                format!("document {p}: {got} chunks stored, {want} recorded"),
            )),
            None => Ok(()),
        }
    }
}
