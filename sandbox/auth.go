package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// TC3-HMAC-SHA256 as published by Tencent Cloud (API 3.0 signature v3):
//
//	CanonicalRequest = Method \n "/" \n "" \n CanonicalHeaders \n SignedHeaders \n hex(sha256(payload))
//	StringToSign     = "TC3-HMAC-SHA256" \n Timestamp \n Date/service/tc3_request \n hex(sha256(CanonicalRequest))
//	SecretDate       = HMAC("TC3"+SecretKey, Date); SecretService = HMAC(SecretDate, service)
//	SecretSigning    = HMAC(SecretService, "tc3_request"); Signature = hex(HMAC(SecretSigning, StringToSign))
//	Authorization    = "TC3-HMAC-SHA256 Credential=SecretId/Date/service/tc3_request, SignedHeaders=..., Signature=..."

const (
	tc3Algorithm  = "TC3-HMAC-SHA256"
	tc3Terminator = "tc3_request"
	service       = "sms"
)

// authorization is a parsed Authorization header.
type authorization struct {
	SecretID      string
	Date          string // 2006-01-02 (UTC)
	Service       string
	SignedHeaders []string
	Signature     string
}

var errBadAuthorization = errors.New("malformed Authorization")

// parseAuthorization parses a TC3-HMAC-SHA256 Authorization header value.
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != tc3Algorithm {
		return a, errBadAuthorization
	}
	var cred, signed string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, errBadAuthorization
		}
		switch k {
		case "Credential":
			cred, haveCred = v, true
		case "SignedHeaders":
			signed, haveSigned = v, true
		case "Signature":
			a.Signature, haveSig = v, true
		default:
			return a, errBadAuthorization
		}
	}
	if !haveCred || !haveSigned || !haveSig || a.Signature == "" {
		return a, errBadAuthorization
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 4 || parts[0] == "" || parts[3] != tc3Terminator {
		return a, errBadAuthorization
	}
	if _, err := time.Parse(time.DateOnly, parts[1]); err != nil {
		return a, errBadAuthorization
	}
	a.SecretID, a.Date, a.Service = parts[0], parts[1], parts[2]
	a.SignedHeaders = strings.Split(signed, ";")
	var hasCT, hasHost bool
	for _, name := range a.SignedHeaders {
		if name == "" || name != strings.ToLower(name) {
			return a, errBadAuthorization
		}
		hasCT = hasCT || name == "content-type"
		hasHost = hasHost || name == "host"
	}
	if !hasCT || !hasHost {
		return a, errBadAuthorization
	}
	return a, nil
}

// tc3Signature computes the hex signature of a request. headerValue returns
// the value of a (lower-case) signed header.
func tc3Signature(secretKey, method, timestamp, date, svc string, signedHeaders []string,
	headerValue func(string) string, payloadHash string) string {
	var canon strings.Builder
	canon.WriteString(method)
	canon.WriteString("\n/\n\n")
	for _, name := range signedHeaders {
		canon.WriteString(name)
		canon.WriteByte(':')
		canon.WriteString(strings.TrimSpace(headerValue(name)))
		canon.WriteByte('\n')
	}
	canon.WriteByte('\n')
	canon.WriteString(strings.Join(signedHeaders, ";"))
	canon.WriteByte('\n')
	canon.WriteString(payloadHash)

	scope := date + "/" + svc + "/" + tc3Terminator
	stringToSign := tc3Algorithm + "\n" + timestamp + "\n" + scope + "\n" + sha256Hex([]byte(canon.String()))

	k := hmacSHA256([]byte("TC3"+secretKey), date)
	k = hmacSHA256(k, svc)
	k = hmacSHA256(k, tc3Terminator)
	return hex.EncodeToString(hmacSHA256(k, stringToSign))
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// authenticate checks the request's TC3 signature. It returns nil or the
// API error to answer with.
func (s *Server) authenticate(r *http.Request, body []byte, now time.Time) *apiError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return newAPIError("AuthFailure.InvalidAuthorization", "Authorization header is missing.")
	}
	a, err := parseAuthorization(h)
	if err != nil {
		return newAPIError("AuthFailure.InvalidAuthorization",
			"Authorization header does not follow TC3-HMAC-SHA256: Credential=SecretId/Date/sms/tc3_request, SignedHeaders=content-type;host, Signature=...")
	}
	if a.Service != service {
		return newAPIError("AuthFailure.InvalidAuthorization", "Credential scope service must be `sms`.")
	}
	if a.SecretID != s.cfg.SecretID {
		return newAPIError("AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that your SecretId is correct.")
	}
	if r.Header.Get("X-TC-Token") != "" {
		return newAPIError("AuthFailure.TokenFailure", "The sandbox does not issue temporary credentials; X-TC-Token is invalid.")
	}
	tsHeader := r.Header.Get("X-TC-Timestamp")
	if tsHeader == "" {
		return newAPIError("MissingParameter", "The request is missing the required header `X-TC-Timestamp`.")
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return newAPIError("InvalidParameter", "The header `X-TC-Timestamp` must be a Unix time in seconds.")
	}
	skew := now.Sub(time.Unix(ts, 0))
	if skew < 0 {
		skew = -skew
	}
	if skew > s.maxSkew {
		return newAPIError("AuthFailure.SignatureExpire",
			"Signature expired. Timestamp "+tsHeader+" is more than "+s.maxSkew.String()+" away from the server time "+strconv.FormatInt(now.Unix(), 10)+".")
	}
	if a.Date != time.Unix(ts, 0).UTC().Format(time.DateOnly) {
		return newAPIError("AuthFailure.SignatureFailure",
			"The credential scope date does not match the UTC date of X-TC-Timestamp.")
	}

	payloadHash := sha256Hex(body)
	if r.Header.Get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD" {
		payloadHash = sha256Hex([]byte("UNSIGNED-PAYLOAD"))
	}
	value := func(name string) string {
		if name == "host" {
			return r.Host
		}
		return strings.Join(r.Header.Values(name), ",")
	}
	want := tc3Signature(s.cfg.SecretKey, r.Method, tsHeader, a.Date, a.Service, a.SignedHeaders, value, payloadHash)
	if hmac.Equal([]byte(want), []byte(strings.ToLower(a.Signature))) {
		return nil
	}
	// Tencent's spec lower-cases header values; the official SDKs sign them
	// as sent. Accept either.
	lower := func(name string) string { return strings.ToLower(value(name)) }
	want = tc3Signature(s.cfg.SecretKey, r.Method, tsHeader, a.Date, a.Service, a.SignedHeaders, lower, payloadHash)
	if hmac.Equal([]byte(want), []byte(strings.ToLower(a.Signature))) {
		return nil
	}
	return newAPIError("AuthFailure.SignatureFailure",
		"The provided credentials could not be validated. Please check your signature is correct.")
}
