package sandbox_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/smsdispatch/smsdispatch/sandbox"
)

// The official SDK sends to the sandbox like to Tencent: only the endpoint
// and scheme change.
func Example() {
	cfg := sandbox.DefaultConfig()
	cfg.ReceiptDelay = 0
	srv, err := sandbox.New(cfg)
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.HttpProfile.Endpoint = strings.TrimPrefix(ts.URL, "http://")
	client, _ := sms.NewClient(common.NewCredential(cfg.SecretID, cfg.SecretKey), "ap-guangzhou", cpf)

	req := sms.NewSendSmsRequest()
	req.SmsSdkAppId = common.StringPtr(cfg.AppID)
	req.SignName = common.StringPtr(sandbox.DefaultSignName)
	req.TemplateId = common.StringPtr(sandbox.TemplateOTP)
	req.TemplateParamSet = common.StringPtrs([]string{"123456", "5"})
	req.PhoneNumberSet = common.StringPtrs([]string{"+8613800000000", "+86123"})
	resp, err := client.SendSms(req)
	if err != nil {
		panic(err)
	}
	for _, st := range resp.Response.SendStatusSet {
		fmt.Println(*st.PhoneNumber, *st.Code, *st.Fee)
	}
	fmt.Println("accepted:", srv.Stats().NumbersSent)
	// Output:
	// +8613800000000 Ok 1
	// +86123 InvalidParameterValue.IncorrectPhoneNumber 0
	// accepted: 1
}

// Faults can be changed while serving, e.g. to lose every SendSms reply
// after the send was recorded.
func ExampleServer_SetFaults() {
	srv, err := sandbox.New(sandbox.DefaultConfig())
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	srv.SetFaults(sandbox.Faults{
		DropRate:    1,
		NumberCodes: map[string]string{"+8613800000001": "FailedOperation.PhoneNumberInBlacklist"},
	})
	fmt.Println(srv.Faults().DropRate)
	// Output: 1
}
