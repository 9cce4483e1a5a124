zero	z e r o |
one	o n e |
two	t w o |
three	t h r e e |
four	f o u r |
five	f i v e |
six	s i x |
seven	s e v e n |
eight	e i g h t |
nine	n i n e |
no	n o |
yes	y e s |
