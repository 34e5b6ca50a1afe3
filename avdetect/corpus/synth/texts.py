"""Sentences for the text-to-speech engines: short lines from public-domain books, plus everyday ones.

The shared speech data comes without transcripts, so TTS engines read these. Each fits in about four
seconds at a normal rate, so little is lost when outputs are cut to six. The book lines are from works
in the public domain (published before 1900); the everyday sentences were written for this project.
"""

from __future__ import annotations

BOOK_LINES = (
    # Jane Austen, Pride and Prejudice (1813)
    "It is a truth universally acknowledged.",
    "I could easily forgive his pride, if he had not mortified mine.",
    "There is a stubbornness about me that never can bear to be frightened.",
    # Charles Dickens, A Tale of Two Cities (1859); Great Expectations (1861)
    "It was the best of times, it was the worst of times.",
    "It was the age of wisdom, it was the age of foolishness.",
    "I loved her against reason, against promise, against peace, against hope.",
    # Herman Melville, Moby-Dick (1851)
    "Call me Ishmael.",
    "Some years ago, never mind how long precisely, I thought I would sail about a little.",
    "It is not down in any map; true places never are.",
    # Lewis Carroll, Alice's Adventures in Wonderland (1865)
    "Alice was beginning to get very tired of sitting by her sister on the bank.",
    "Curiouser and curiouser, cried Alice.",
    "Why, sometimes I've believed as many as six impossible things before breakfast.",
    "Begin at the beginning, the King said, very gravely.",
    # Arthur Conan Doyle, A Scandal in Bohemia and The Sign of Four (1890-1891)
    "To Sherlock Holmes she is always the woman.",
    "You see, but you do not observe.",
    "When you have eliminated the impossible, whatever remains must be the truth.",
    # Mark Twain, Adventures of Huckleberry Finn (1884); Tom Sawyer (1876)
    "You don't know about me without you have read a book.",
    "Tom appeared on the sidewalk with a bucket of whitewash and a long brush.",
    # Robert Louis Stevenson, Treasure Island (1883); Jekyll and Hyde (1886)
    "Fifteen men on the dead man's chest.",
    "I remember him as if it were yesterday, as he came plodding to the inn door.",
    "Man is not truly one, but truly two.",
    # H. G. Wells, The Time Machine (1895); The War of the Worlds (1898)
    "The Time Traveller was expounding a recondite matter to us.",
    "No one would have believed in the last years of the nineteenth century.",
    # Henry David Thoreau, Walden (1854)
    "I went to the woods because I wished to live deliberately.",
    "The mass of men lead lives of quiet desperation.",
    # Mary Shelley, Frankenstein (1818)
    "I beheld the wretch, the miserable monster whom I had created.",
    "Beware; for I am fearless, and therefore powerful.",
    # Bram Stoker, Dracula (1897)
    "Listen to them, the children of the night. What music they make!",
    "I am Dracula; and I bid you welcome to my house.",
    # Charlotte Bronte, Jane Eyre (1847); Emily Bronte, Wuthering Heights (1847)
    "There was no possibility of taking a walk that day.",
    "Whatever our souls are made of, his and mine are the same.",
    # Louisa May Alcott, Little Women (1868)
    "Christmas won't be Christmas without any presents, grumbled Jo.",
    # Jules Verne, Around the World in Eighty Days (1873), English translation of 1873
    "Phileas Fogg lived at number seven, Saville Row, Burlington Gardens.",
    # Oscar Wilde, The Picture of Dorian Gray (1890)
    "The studio was filled with the rich odour of roses.",
    "To define is to limit.",
    # Nathaniel Hawthorne, The Scarlet Letter (1850)
    "A throng of bearded men, in sad-coloured garments, stood in front of a wooden edifice.",
    # Abraham Lincoln, the Gettysburg Address (1863)
    "Four score and seven years ago our fathers brought forth on this continent a new nation.",
    # Aesop's fables, Townsend's translation (1867)
    "Slow but steady wins the race.",
    "A crow, half dead with thirst, came upon a pitcher.",
    # Hans Christian Andersen, The Emperor's New Clothes, English translation (1846)
    "But he has nothing on at all, said a little child.",
)

EVERYDAY_LINES = (
    "Please call me back when you get this message.",
    "The meeting has been moved to three o'clock on Thursday.",
    "I left the keys on the kitchen table next to the mail.",
    "Can you send me the report before the end of the day?",
    "The train to the airport leaves every twenty minutes.",
    "We are out of milk, so I'll stop at the store on the way home.",
    "Thank you for calling. Your order has been shipped.",
    "Turn left at the second light and keep going for a mile.",
    "The weather tomorrow will be cloudy with a chance of rain.",
    "I think we should wait until the numbers come in.",
    "Hello, it's me. I just wanted to check how you are doing.",
    "My account number is four seven two, nine one eight.",
    "Don't forget to water the plants while I'm away.",
    "The bank will transfer the money first thing on Monday.",
    "Honestly, I didn't expect the game to end like that.",
    "Our flight was delayed by almost two hours.",
    "She said the results look good and the project can go ahead.",
    "Let me know if you need anything else from me.",
    "The children are playing in the garden behind the house.",
    "I'm sorry, I can't make it to dinner tonight.",
    "We have reviewed your application and would like to meet you.",
    "The new bridge will open to traffic next spring.",
    "Could you speak a little more slowly, please?",
    "Remember to bring your passport and a pen.",
    "The price of bread has gone up again this month.",
    "This is an urgent message about your recent payment.",
    "Yesterday I walked along the river for over an hour.",
    "Good evening, and welcome to the late news.",
    "Please confirm the transfer by replying to this call.",
    "Nobody told me the office would be closed today.",
)

SENTENCES = BOOK_LINES + EVERYDAY_LINES
