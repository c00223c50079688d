package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"golang.org/x/term"
)

func newUsers(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "List, add and remove dashboard and storage-service users",
	}
	cmd.AddCommand(newUsersList(a), newUsersAdd(a), newUsersRemove(a))
	return cmd
}

func newUsersList(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users of both services",
		Args:  cobra.NoArgs,
		RunE: a.withEngine(func(ctx context.Context, cfg config.Config, e *emulator.Engine) error {
			rows, err := emulator.ListUsers(ctx, e, cfg)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(rows)
			}
			w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SERVICE\tUSERNAME\tEMAIL\tSUPERUSER\tACTIVE\tAPI KEY")
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%t\t%s\n", r.Service, r.Username, r.Email, r.Superuser, r.Active, r.APIKey)
			}
			return w.Flush()
		}),
	}
}

func newUsersAdd(a *app) *cobra.Command {
	var u seed.User
	var service string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add a user (password and API key generated and printed once unless given)",
		Example: `  devstack users add --username alice --email alice@example.org
  printf '%s' "$PW" | devstack users add --service storage --username bot --email bot@example.org --password-stdin --api-key KEY`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("password") && u.Password == "" {
				return usage("--password is empty: give a password, or leave the flag out to have one generated")
			}
			if !passwordStdin {
				return nil
			}
			p, err := a.readPassword()
			u.Password = p
			return err
		},
		RunE: a.withEngine(func(ctx context.Context, cfg config.Config, e *emulator.Engine) error {
			generated := u.Password == ""
			u.Active = true
			added, err := emulator.AddUser(ctx, e, cfg, service, u, a.lines())
			if err != nil {
				return err
			}
			r := userReport{Service: service, Username: added.Username, Email: added.Email, Superuser: added.Superuser, APIKey: added.APIKey}
			if generated {
				r.Password = added.Password
			}
			if a.output == "json" {
				return a.printJSON(r)
			}
			fmt.Fprintf(a.stdout, "added %s user %s\napi key: %s\n", service, added.Username, added.APIKey)
			if generated {
				fmt.Fprintf(a.stdout, "password: %s   (shown once)\n", added.Password)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&service, "service", seed.Dashboard, "dashboard or storage")
	f.StringVar(&u.Username, "username", "", "username (required)")
	f.StringVar(&u.Email, "email", "", "email address (required)")
	f.StringVar(&u.Password, "password", "", "password (default: generated and printed once)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	f.StringVar(&u.APIKey, "api-key", "", "API key (default: generated)")
	f.BoolVar(&u.Superuser, "superuser", false, "make the user an administrator")
	f.StringVar(&u.FirstName, "first-name", "", "first name")
	f.StringVar(&u.LastName, "last-name", "", "last name")
	return cmd
}

// userReport is `users add -o json` and `users remove -o json`: the user
// added, with its password when it was generated (shown once), or removed.
type userReport struct {
	Service   string `json:"service"`
	Username  string `json:"username"`
	Email     string `json:"email,omitempty"`
	Superuser bool   `json:"superuser,omitempty"`
	APIKey    string `json:"api_key,omitempty"`
	Password  string `json:"password,omitempty"`
	Removed   bool   `json:"removed,omitempty"`
}

// readPassword reads one line from stdin; on a terminal without echo.
func (a *app) readPassword() (string, error) {
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(a.stderr, "password: ")
		p, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err == nil && len(p) == 0 {
			return "", usage("the password is empty")
		}
		return string(p), err
	}
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if p := strings.TrimRight(line, "\r\n"); p != "" {
		return p, nil
	}
	if err != nil && line == "" {
		return "", usage("--password-stdin: no password on standard input")
	}
	return "", usage("--password-stdin: the password on standard input is empty")
}

func newUsersRemove(a *app) *cobra.Command {
	var service, username string
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Remove a user and its API key, profile and agent",
		Args:  cobra.NoArgs,
		RunE: a.withEngine(func(ctx context.Context, cfg config.Config, e *emulator.Engine) error {
			if err := emulator.RemoveUser(ctx, e, cfg, service, username, a.lines()); err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(userReport{Service: service, Username: username, Removed: true})
			}
			fmt.Fprintf(a.stdout, "removed %s user %s\n", service, username)
			return nil
		}),
	}
	cmd.Flags().StringVar(&service, "service", seed.Dashboard, "dashboard or storage")
	cmd.Flags().StringVar(&username, "username", "", "username (required)")
	return cmd
}
