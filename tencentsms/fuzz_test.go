package tencentsms_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// cannedTransport answers every request in memory with one status and body.
type cannedTransport struct {
	status int
	body   []byte
}

func (c cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{
		StatusCode: c.status,
		Status:     http.StatusText(c.status),
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(bytes.NewReader(c.body)),
		Request: req,
	}, nil
}

// FuzzResponse feeds arbitrary server output to the client's response
// handling (the SDK's parser plus ours). Whatever arrives, a call must not
// panic, and must either succeed or fail as an API error or an unknown
// outcome: an answer came back, so it was never "not sent".
func FuzzResponse(f *testing.F) {
	seeds := []string{
		`{"Response":{"SendStatusSet":[{"SerialNo":"1","PhoneNumber":"+8613800000000","Fee":1,"Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"r"}}`,
		`{"Response":{"SendStatusSet":[null,{"Fee":18446744073709551615}],"RequestId":"r"}}`,
		`{"Response":{"PullSmsSendStatusSet":[{"UserReceiveTime":18446744073709551615},null],"RequestId":"r"}}`,
		`{"Response":{"Error":{"Code":"InternalError.Timeout","Message":"m"},"RequestId":"r"}}`,
		`{"Response":{"Error":{"Code":"","Message":"m"},"RequestId":"r"}}`,
		`{"Response":{"Error":{"Code":"ClientError.NetworkError"}}}`,
		`{"code":5,"codeDesc":"x"}`,
		`{"Response":null}`,
		`{}`, `[]`, `null`, ``, `<html>`, `{"Response":{"SendStatusSet":{}}}`,
	}
	for _, s := range seeds {
		for _, status := range []int{200, 500} {
			for op := range byte(2) {
				f.Add(op, status, []byte(s))
			}
		}
	}
	f.Fuzz(func(t *testing.T, op byte, status int, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		c, err := tencentsms.New(tencentsms.Config{
			SecretID: testSecretID, SecretKey: testSecretKey,
			Endpoint:  "http://127.0.0.1:9", // never dialled
			Transport: cannedTransport{status: status, body: body},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		switch op % 2 {
		case 0:
			res, err := c.SendSms(ctx, sendReq("+8613800000000"))
			if err == nil && res == nil {
				t.Fatal("nil result without error")
			}
			checkFuzzErr(t, status, err)
		case 1:
			_, err := c.PullSendStatus(ctx, testAppID, 100)
			checkFuzzErr(t, status, err)
		}
	})
}

func checkFuzzErr(t *testing.T, status int, err error) {
	t.Helper()
	if err == nil {
		return
	}
	noSecret(t, err)
	var apiErr *tencentsms.Error
	var te *tencentsms.TransportError
	switch {
	case errors.As(err, &apiErr):
		if apiErr.Code == "" || apiErr.HTTPStatus != status {
			t.Fatalf("API error %+v for HTTP %d", apiErr, status)
		}
	case errors.As(err, &te):
		if !te.Sent || !errors.Is(err, tencentsms.ErrOutcomeUnknown) || te.StatusCode != status {
			t.Fatalf("transport error %+v for HTTP %d: %v", te, status, err)
		}
	default:
		t.Fatalf("unclassified error %T: %v", err, err)
	}
}
