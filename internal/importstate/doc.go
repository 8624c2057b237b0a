// Package importstate reads what fetchmail, mpop and getmail remember about
// the POP3 messages they fetched and left on the server, so that fetchd can
// record them as delivered (state.Store.ImportSeen) and a keep-mode mailbox
// is not downloaded again after a user switches to fetchd.
//
// The formats are read as the programs write them (fetchmail 6.4, mpop 1.4,
// getmail6 6.18; testdata holds files the real programs wrote):
//
//   - fetchmail's idfile (~/.fetchids): one line per message,
//     "USER@HOST UIDL", HOST being the poll name or its "via" name. No
//     port, no time.
//   - mpop's UIDLs files (~/.mpop_uidls/USER_at_HOST): "#" comments at the
//     top, then lists that each begin with " COUNT HOST USER" and hold COUNT
//     lines of one UIDL each. No port, no time.
//   - getmail's oldmail files (oldmail-SERVER-PORT-USER in the getmail
//     directory): one line per message, "UIDL\0UNIXTIME", the time being
//     when getmail first fetched it. The account is in the file's name
//     only, with any of /\:;<>| replaced by '-'.
//
// The files may come from anywhere, so reading them is bounded: lines of
// at most MaxLine octets, at most MaxFiles files from a directory and
// MaxUIDLs UIDLs in all. A UIDL fetchd's POP3 client would refuse (empty,
// over 512 octets, a control character) is skipped and counted, never
// stored.
package importstate
