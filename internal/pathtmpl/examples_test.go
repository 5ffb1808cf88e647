package pathtmpl_test

import (
	"fmt"

	"mailtask/internal/pathtmpl"
)

func ExampleTemplate_Expand() {
	tmpl, err := pathtmpl.Parse("{from_domain}/{yyyy}/{mm}", pathtmpl.MessageVars)
	if err != nil {
		panic(err)
	}
	fmt.Println(tmpl.Expand(map[string]string{
		"from_domain": pathtmpl.Domain("Billing@Acme.Example"),
		"yyyy":        "2025",
		"mm":          "03",
	}))
	// A hostile value cannot add a folder level.
	fmt.Println(tmpl.Expand(map[string]string{"from_domain": "../../etc", "yyyy": "..", "mm": "/"}))
	// Output:
	// acme.example/2025/03
	// _.._etc/attachment/_
}
