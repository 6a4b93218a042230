//! Stage 6c · the vocabulary as a byte trie, laid out for a depth-first walk.
//!
//! Asking the recognizer about 49,152 tokens one by one repeats work: `"name`, `"names` and
//! `"number` all start with `"n`, and once `"n` is refused, so is every token below it. In a
//! trie each shared prefix is read once, and a refused byte skips its whole subtree:
//!
//! ```text
//! index  depth byte  token     end        preorder, children in byte order; `end` is the index
//!   0      0   (root)            7        just past the node's subtree, so "refused" is one jump
//!   1      1   "     `"`  (1)     5
//!   2      2   n                 5
//!   3      3   a                 5
//!   4      4   m     `"nam`      5
//!   5      1   {     `{`         7
//!   6      2   "     `{"`        7
//! ```
//!
//! The vocabulary's tokens are byte strings (byte-level BPE: the tokenizer already mapped
//! GPT-2's printable stand-ins back to raw bytes); special tokens are not in the trie.

/// No token ends at this node.
pub const NO_TOKEN: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrieNode {
    pub byte: u8,
    /// Bytes from the root (the root is 0).
    pub depth: u16,
    /// The token whose last byte this is, or [`NO_TOKEN`].
    pub token: u32,
    /// Index just past this node's subtree.
    pub end: u32,
}

#[derive(Clone, Debug)]
pub struct TokenTrie {
    /// Preorder; `nodes[0]` is the root.
    pub nodes: Vec<TrieNode>,
    /// `(id, twin)`: a second id with exactly the same bytes as `id` (allowed together).
    pub twins: Vec<(u32, u32)>,
    /// The longest token, in bytes.
    pub max_depth: usize,
}

impl TokenTrie {
    /// The trie of `(id, bytes)`; empty byte strings are left out.
    pub fn new(tokens: &[(u32, &[u8])]) -> TokenTrie {
        let mut sorted: Vec<(&[u8], u32)> = tokens
            .iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|&(id, b)| (b, id))
            .collect();
        sorted.sort_unstable();
        let root = TrieNode {
            byte: 0,
            depth: 0,
            token: NO_TOKEN,
            end: 0,
        };
        let mut nodes = vec![root];
        let mut twins = Vec::new();
        // path[d]: the node at depth d on the way to the previous token
        let mut path: Vec<usize> = vec![0];
        let mut prev: &[u8] = &[];
        for (bytes, id) in sorted {
            let common = prev.iter().zip(bytes).take_while(|(a, b)| a == b).count();
            if common == bytes.len() && common == prev.len() {
                twins.push((nodes[path[common]].token, id));
                continue;
            }
            path.truncate(common + 1);
            for (d, &byte) in bytes.iter().enumerate().skip(common) {
                nodes.push(TrieNode {
                    byte,
                    depth: (d + 1) as u16,
                    token: NO_TOKEN,
                    end: 0,
                });
                path.push(nodes.len() - 1);
            }
            nodes[path[bytes.len()]].token = id;
            prev = bytes;
        }
        // A subtree ends at the next node that is not deeper.
        let mut open: Vec<usize> = Vec::new();
        for i in 0..nodes.len() {
            while let Some(&j) = open.last() {
                if nodes[j].depth < nodes[i].depth {
                    break;
                }
                nodes[j].end = i as u32;
                open.pop();
            }
            open.push(i);
        }
        let n = nodes.len() as u32;
        for j in open {
            nodes[j].end = n;
        }
        let max_depth = nodes.iter().map(|n| n.depth as usize).max().unwrap_or(0);
        TokenTrie {
            nodes,
            twins,
            max_depth,
        }
    }

    /// The bytes of the token ending at node `i` (rebuilt by walking up; for tests and output).
    pub fn bytes_at(&self, i: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut depth = self.nodes[i].depth;
        for j in (0..=i).rev() {
            if self.nodes[j].depth == depth && depth > 0 {
                out.push(self.nodes[j].byte);
                depth -= 1;
            }
        }
        out.reverse();
        out
    }
}
