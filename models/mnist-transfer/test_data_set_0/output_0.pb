
BprobsJ<%o±=wgŸ>ÏEg>†A–>Ea©=np>&	>‚[F>€¢è>’¯=Ô¹>y¸=TD?úiU>²‰=