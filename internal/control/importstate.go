package control

import (
	"context"
	"encoding/base64"
	"net/http"
)

// importChunk bounds the JSON of one POST /import-state: under the
// daemon's maxBody, with room for the rest of the request.
const importChunk = maxBody - 4<<10

// ImportState asks the daemon to record req's UIDLs as delivered. A large
// import goes in as many requests as the daemon's request limit needs;
// the answer is their sum. Each request is one transaction in the daemon,
// and an import done twice adds nothing the second time, so an error part
// way leaves nothing that running the import again would not complete.
func (c *Client) ImportState(ctx context.Context, req ImportRequest) (ImportResponse, error) {
	total := ImportResponse{Account: req.Account}
	rest := req.UIDLs
	// At least one request, so that an unknown account is an error even
	// with nothing to import.
	for first := true; first || len(rest) > 0; first = false {
		n, size := 0, 0
		for n < len(rest) {
			s := importedSize(rest[n])
			if n > 0 && size+s > importChunk {
				break
			}
			size += s
			n++
		}
		part := req
		part.UIDLs = rest[:n]
		var resp ImportResponse
		if err := c.call(ctx, http.MethodPost, "/import-state", part, &resp); err != nil {
			return total, err
		}
		total.Added += resp.Added
		total.Known += resp.Known
		rest = rest[n:]
	}
	return total, nil
}

// importedSize is at least the length of u in JSON, with its comma:
// {"uidl":"BASE64"} is 11 octets and the UIDL in base64, and
// ,"at":"RFC 3339 with nanoseconds and a zone" at most 45.
func importedSize(u ImportedUIDL) int {
	n := base64.StdEncoding.EncodedLen(len(u.UIDL)) + 16
	if !u.At.IsZero() {
		n += 48
	}
	return n
}
