package tencentsms

import (
	"context"
	"errors"
	"io"
	"syscall"
	"testing"

	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	netErr := tcerr.NewTencentCloudSDKError("ClientError.NetworkError", "Fail to get response because ...", "")
	parseErr := tcerr.NewTencentCloudSDKError("ClientError.ParseJsonError", "Fail to parse json content: <html>...", "")
	apiErr := tcerr.NewTencentCloudSDKError("LimitExceeded.AppDailyLimit", "daily limit", "req-1")

	type want struct {
		api    bool // *Error, else *TransportError
		sent   bool
		status int
		cause  error // reachable with errors.Is, if set
	}
	tests := []struct {
		name string
		snap snapshot
		err  error
		want want
	}{
		{"API error", snapshot{exchanges: 1, written: true, status: 200}, apiErr, want{api: true, status: 200}},
		{"API error on 500", snapshot{exchanges: 1, written: true, status: 500}, apiErr, want{api: true, status: 500}},
		{"API-looking error without a response", snapshot{}, apiErr, want{}},
		{"refused", snapshot{exchanges: 1, rtErr: syscall.ECONNREFUSED}, netErr, want{cause: syscall.ECONNREFUSED}},
		{"deadline before writing", snapshot{exchanges: 1, rtErr: context.DeadlineExceeded}, netErr, want{cause: context.DeadlineExceeded}},
		{"deadline after writing", snapshot{exchanges: 1, written: true, rtErr: context.DeadlineExceeded}, netErr, want{sent: true, cause: context.DeadlineExceeded}},
		{"reset after writing", snapshot{exchanges: 1, written: true, rtErr: syscall.ECONNRESET}, netErr, want{sent: true, cause: syscall.ECONNRESET}},
		{"garbage body", snapshot{exchanges: 1, written: true, status: 502}, parseErr, want{sent: true, status: 502}},
		{"body cut short", snapshot{exchanges: 1, written: true, status: 200, bodyErr: io.ErrUnexpectedEOF}, parseErr, want{sent: true, status: 200, cause: io.ErrUnexpectedEOF}},
		{"answer before the write finished", snapshot{exchanges: 1, status: 200}, parseErr, want{sent: true, status: 200}},
		{"redirect refused", snapshot{exchanges: 2, written: true, status: 307, rtErr: errRedirect}, netErr, want{sent: true, status: 307, cause: errRedirect}},
		{"SDK failed before any exchange", snapshot{}, errors.New("SendSms require credential"), want{}},
	}
	for _, tt := range tests {
		err := classify("SendSms", tt.snap, tt.err)
		var ae *Error
		var te *TransportError
		switch {
		case tt.want.api:
			if !errors.As(err, &ae) || ae.HTTPStatus != tt.want.status || ae.RequestID != "req-1" {
				t.Errorf("%s: got %#v, want an *Error", tt.name, err)
			}
		case !errors.As(err, &te):
			t.Errorf("%s: got %#v, want a *TransportError", tt.name, err)
		default:
			if te.Sent != tt.want.sent || te.StatusCode != tt.want.status || te.Err == nil {
				t.Errorf("%s: got %+v, want sent=%t status=%d", tt.name, te, tt.want.sent, tt.want.status)
			}
			if tt.want.cause != nil && !errors.Is(err, tt.want.cause) {
				t.Errorf("%s: %v does not wrap %v", tt.name, err, tt.want.cause)
			}
		}
	}
}
