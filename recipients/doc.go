// Package recipients is the producer's pure core: it reads recipient lists (CSV lines from a file or
// stdin, in UTF-8 or GB18030, or a slice), normalises every number to E.164 with nyaruka/phonenumbers, rejects invalid
// ones with a reason, deduplicates the job's numbers (the first occurrence and its params win),
// and groups the accepted numbers into batches of at most 200 numbers that share one template
// param set and never mix mainland China (+86) with international numbers.
//
// Accepted numbers are held compactly (a uint64 of the E.164 digits per number plus a
// deduplication set, released by Finish), so a 10-million-recipient job fits in a few hundred MB
// of producer memory. Batches are handed out lazily, one at a time: packed (Set.PackedBatch, by
// index, for store.CreateJobStream, no strings built) or rendered as E.164 strings (Set.Batches).
//
// The package does no I/O besides reading the io.Reader it is given, and never reads the
// environment.
package recipients
