package tencentsms_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// A stand-in for the Tencent API: it accepts the first number and rejects the
// second, as SendSms does per number.
func exampleServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"Response":{"SendStatusSet":[
			{"SerialNo":"2640:1","PhoneNumber":"+8613812345678","Fee":1,"SessionContext":"job-42",
			 "Code":"Ok","Message":"send success","IsoCode":"CN"},
			{"SerialNo":"","PhoneNumber":"+8613912345678","Fee":0,"SessionContext":"job-42",
			 "Code":"LimitExceeded.PhoneNumberDailyLimit","Message":"daily limit","IsoCode":"CN"}],
			"RequestId":"a0aabda6-cf91-4f3e-a81f-9198114a2279"}}`)
	}))
}

func ExampleClient_SendSms() {
	srv := exampleServer() // in production, leave Endpoint empty
	defer srv.Close()

	client, err := tencentsms.New(tencentsms.Config{
		SecretID:  "AKIDexample",
		SecretKey: "example-key",
		Endpoint:  srv.URL, // e.g. "http://127.0.0.1:9000"
		Timeout:   5 * time.Second,
		MaxConns:  16, // the worker's concurrency
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	res, err := client.SendSms(context.Background(), tencentsms.SendRequest{
		AppID:          "1400006666",
		SignName:       "Tencent",
		TemplateID:     "449739",
		TemplateParams: []string{"1234"},
		PhoneNumbers:   []string{"+8613812345678", "+8613912345678"},
		SessionContext: "job-42",
	})
	var apiErr *tencentsms.Error
	switch {
	case errors.Is(err, tencentsms.ErrNotSent):
		fmt.Println("nothing sent, safe to retry:", err)
		return
	case errors.Is(err, tencentsms.ErrOutcomeUnknown):
		fmt.Println("may have been sent, reconcile first:", err)
		return
	case errors.As(err, &apiErr):
		fmt.Println("refused:", apiErr.Code, apiErr.RequestID)
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	fmt.Println("request", res.RequestID)
	for _, s := range res.Statuses {
		fmt.Println(tencentsms.MaskPhone(s.PhoneNumber), s.OK(), s.Code, s.SerialNo)
	}
	// Output:
	// request a0aabda6-cf91-4f3e-a81f-9198114a2279
	// +86138****5678 true Ok 2640:1
	// +86139****5678 false LimitExceeded.PhoneNumberDailyLimit
}

func ExampleClient_SendSms_notSent() {
	// A port that was just closed: the connection is refused before the
	// request is written.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	ln.Close()

	client, err := tencentsms.New(tencentsms.Config{
		SecretID:  "AKIDexample",
		SecretKey: "example-key",
		Endpoint:  "http://" + ln.Addr().String(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	_, err = client.SendSms(context.Background(), tencentsms.SendRequest{
		AppID: "1400006666", TemplateID: "449739", PhoneNumbers: []string{"+8613812345678"},
	})
	var te *tencentsms.TransportError
	fmt.Println(errors.Is(err, tencentsms.ErrNotSent), errors.Is(err, tencentsms.ErrOutcomeUnknown),
		errors.As(err, &te) && !te.Sent)
	// Output: true false true
}

func ExampleMaskPhone() {
	fmt.Println(tencentsms.MaskPhone("+8613812345678"))
	fmt.Println(tencentsms.MaskPhone("13812345678"))
	fmt.Println(tencentsms.MaskPhone("123"))
	// Output:
	// +86138****5678
	// 138****5678
	// ***
}
